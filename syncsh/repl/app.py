"""The console over one Session: connecting, running a line (the guard rail, rendering,
paging, recording), \\upload, the idle lock. The prompt loop is in loop.py, meta-commands in
meta.py, history in history.py, highlighting in lexer.py, the toolbar in toolbar.py."""

from __future__ import annotations

import time

from syncsh.errors import SyncshError, UsageError
from syncsh.printable import printable, printable_bytes
from syncsh.protocol import commands as C


class Console:
    def __init__(self, target, args, *, env=None) -> None:
        # env: the front end's Environment (syncsh/environment.py): where output
        # goes, whether it is a terminal, colour, the data directory
        self.env = env if env is not None else process_environment()
        self.target = target
        self.args = args
        self.fmt = args.format or "table"
        self.trace = False
        self.session = None
        self.commands_run: list[str] = []
        self.out = self.env.stdout
        self.recorder = None
        self.pager = "off" if args.no_pager else "auto"
        self.ask = None                 # question -> answer line (the REPL's own prompt)
        self.last_activity = time.monotonic()
        self.banner_due = False

    @property
    def color(self) -> bool:
        """Colour in replies: never with --no-color or NO_COLOR, else on a terminal."""
        if self.args.no_color or self.env.color is False:
            return False
        return bool(self.env.color) or bool(self.env.stdout_isatty)

    def say(self, text: str) -> None:
        """A line of output (what a meta-command shows)."""
        self.out.write(text + "\n")
        self.out.flush()

    def warn(self, text: str) -> None:
        """A line on stderr (an error, a note, the trace), escaped for the terminal."""
        self.env.warn(text)

    @property
    def table(self):
        """The command table of the dialect spoken now."""
        from syncsh.targets import expected_dialect
        dialect = self.session.dialect if self.session is not None else \
            (self.args.dialect or expected_dialect(self.target) or "seed")
        return C.table_for(dialect)

    # ------------------------------------------------------------------ connection
    def connect(self, target) -> None:
        self.open(target)
        self.show_banner()

    def open(self, target) -> None:
        """Open a session on target; it replaces the current one only once it is open."""
        from syncsh.connect import open_session
        from syncsh import guard
        gate = guard.Gate(target, door=guard.REPL, read_only=self.args.read_only,
                          allow_writes=self.args.allow_writes)
        session = open_session(target, timeout=self.args.timeout, dialect=self.args.dialect,
                               on_stderr=self._server_stderr, gate=gate)
        if self.session is not None:
            self.session.close()
        self.session, self.target = session, target

    def show_banner(self) -> None:
        self._renderer().banner(self.session.banner, self.target.text)
        self.banner_due = False

    def show_banner_if_due(self) -> None:
        """The banner of a session opened behind the prompt, once, and before anything else
        the session prints (a line typed ahead may be taken before the banner's turn)."""
        if self.banner_due and self.session is not None:
            self.show_banner()

    def _server_stderr(self, line: str) -> None:
        self.stderr_lines = getattr(self, "stderr_lines", [])[-50:] + [line]
        if self.trace:
            self.warn(f"  [server stderr] {printable(line)}")

    def _renderer(self, out=None):
        from syncsh.render import make_renderer
        return make_renderer(self.fmt, out or self.out, color=self.color)

    # ------------------------------------------------------------------ toolbar
    def toolbar(self, text_now: str = "", width: int | None = None):
        from syncsh.repl import toolbar
        parts = toolbar.segments(self.target.text, self.session, self.table, text_now)
        return toolbar.fitted(parts, width or toolbar.window_width())

    # ------------------------------------------------------------------ commands
    def guard(self, line: str, confirm) -> bool | None:
        """The guard rail's answer for a protocol line: None when it is not to be sent (said
        why), else whether the user confirmed it."""
        from syncsh import guard
        verdict = guard.judge(self.table, line, self.target, read_only=self.args.read_only,
                              allow_writes=self.args.allow_writes)
        return self.cleared(verdict.action, verdict.name, confirm)

    def write_action(self) -> str:
        """The guard rail's action for a write known by name (\\upload)."""
        from syncsh import guard
        return guard.decide(True, self.target, read_only=self.args.read_only,
                            allow_writes=self.args.allow_writes)

    def cleared(self, action: str, name: str, confirm) -> bool | None:
        """A guard-rail action carried out: None when refused or not confirmed (said),
        True when the user said yes, False when no question was needed."""
        from syncsh import guard
        if action == guard.REFUSE:
            self.warn(guard.refusal(action, name, self.target, self.args.read_only))
            return None
        if action == guard.CONFIRM:
            if confirm(f"{name} changes {self.target.text}. Send it? [y/N] "):
                return True
            self.warn(f"not sent: {name}")
            return None
        return False

    def run_line(self, line: str, confirm) -> None:
        line = line.strip()
        if not line or line.startswith("#"):     # an annotation, as in -f scripts
            return
        if line.startswith("\\"):
            from syncsh.repl.meta import run_meta
            run_meta(self, line, confirm)
            return
        confirmed = self._to_send(line, confirm)
        if confirmed is not None:
            self._send(line, confirmed)

    def _to_send(self, line: str, confirm) -> bool | None:
        """Every check a typed line passes before it is sent: None when it is not to be
        (said why), else whether the user confirmed it."""
        problem = C.check_line(self.table, line)
        if problem:
            self.warn(f"not sent: {problem}")
            return None
        if not self._meant_as_typed(line, confirm):
            return None
        confirmed = self.guard(line, confirm)
        if confirmed is not None and (self.session is None or self.session.closed):
            self.warn(self.not_connected())
            return None
        return confirmed

    def _meant_as_typed(self, line: str, confirm) -> bool:
        """A command word the table does not know but one close to it: sent as typed only
        if the user says so."""
        guess = C.did_you_mean(self.table, line)
        if guess is None:
            return True
        word = C.command_word(line)
        if confirm(f"{word} is not a command here; did you mean {guess}? "
                   f"Send {word} as typed? [y/N] "):
            return True
        self.warn(f"not sent: {word} (did you mean {guess}?)")
        return False

    def _send(self, line: str, confirmed: bool) -> None:
        """Send a line and show its reply (paged, traced, recorded as asked)."""
        from syncsh.private import masked
        from syncsh.repl.pager import PagedOutput
        self.commands_run.append(masked(line))
        # auto pages tables (raw and JSON lines are for copying and piping); on pages all
        out = PagedOutput(self.out, enabled=self.pager == "on" or
                          (self.pager == "auto" and self.fmt == "table"),
                          always=self.pager == "on", isatty=self.env.stdout_isatty,
                          environ=self.env.environ)
        renderer = self._renderer(out)
        reply: list[str] = []
        self._watch_wire(renderer, reply)
        events = self.session.execute(line, batches=True, confirmed=confirmed)
        try:
            self._show(line, events, renderer)
        finally:
            self.last_activity = time.monotonic()
            renderer.flush()
            out.close()
            if self.recorder is not None:
                self.recorder.command(line, reply)
        if self.session.closed:             # EXIT (a lost connection raised, and says so)
            self.warn(f"session ended: \\reconnect opens {self.target.text} again")

    def _watch_wire(self, renderer, reply: list[str]) -> None:
        """What sees the bytes of the next command: the trace, raw output, the recorder."""
        hooks = []
        if self.trace:
            hooks.append(self._trace_line(time.monotonic()))
        if self.fmt == "raw":
            hooks.append(renderer.wire)
        if self.recorder is not None:
            hooks.append(lambda d, raw: d == "S" and reply.extend(_reply_lines(raw)))
        self.session.on_wire = (lambda d, raw: [h(d, raw) for h in hooks]) if hooks else None
        self.session.wire_in_regions = not self.trace   # the trace times each line

    def _trace_line(self, start: float):
        def trace(direction, raw):
            from syncsh.private import masked
            shown = printable_bytes(raw.rstrip(b"\r\n"))     # server bytes: escaped
            self.warn(f"{time.monotonic() - start:8.4f} {direction}: "
                      f"{masked(shown) if direction == 'C' else shown}")
        return trace

    def _show(self, line: str, events, renderer) -> None:
        """The reply's events through the renderer; whatever stops the showing (Ctrl-C,
        leaving the pager, a bug of ours) still reads the reply to its end."""
        from syncsh.protocol.crc import checked
        from syncsh.repl.pager import PagerQuit
        try:
            for event in checked(line, events):
                renderer.event(event)
        except (KeyboardInterrupt, PagerQuit) as exc:
            self._drain(events)             # stop showing at once; stay in step
            if isinstance(exc, KeyboardInterrupt):
                self.warn(self._interrupted())
        except SyncshError:
            raise
        except Exception:                   # a bug in showing it: the reply is still read
            self._drain(events)
            raise

    def _interrupted(self) -> str:
        if self.session.conn.in_flight is None:
            return "(output stopped; the reply was read to its end)"
        return (f"(interrupted: the rest of the reply to {self.session.conn.in_flight}"
                " is read and dropped before the next command)")

    def not_connected(self) -> str:
        if self.session is None:
            return "not connected: \\connect TARGET opens one (\\help target lists the forms)"
        return (f"not connected: \\reconnect opens {self.target.text} again "
                "(or \\connect TARGET another)")

    def _drain(self, events) -> None:
        self.session.on_wire = None
        for _ in events:
            pass

    def upload(self, rest: str, confirm) -> None:
        """\\upload: everything checked (the file, the dialect, the mailbox) before the
        user is asked to send it; a refusal before anything is read."""
        from syncsh import guard
        from syncsh.upload import parse_args, prepare, send
        path, mailbox, flags = parse_args(rest)
        if self.session is None or self.session.closed:
            self.warn(self.not_connected())
            return
        action = self.write_action()
        if action == guard.REFUSE:
            self.cleared(action, "\\upload", confirm)
            return
        self.session.on_wire = None
        plan = prepare(self.session, path, mailbox, flags)
        confirmed = self.cleared(action, "\\upload", confirm)
        if confirmed is None:
            return
        said = send(self.session, plan, confirmed=confirmed)
        if self.fmt == "json":              # JSON lines throughout, as one-shot use
            import json
            said = json.dumps({"type": "upload", "text": said})
        self.say(said)

    def release_idle_lock(self) -> str | None:
        """ENDUSER when a user lock has been held idle too long (it blocks that user's
        replication); returns what to tell the user."""
        s = self.session
        limit = getattr(self.args, "lock_idle", 300.0)
        if not limit or s is None or s.closed or not s.user:
            return None
        if time.monotonic() - max(self.last_activity, s.user_since or 0) < limit:
            return None
        user = s.user
        try:
            for _ in s.execute("ENDUSER"):
                pass
        except SyncshError as exc:
            return f"idle: ENDUSER for {user} failed: {exc}"
        self.last_activity = time.monotonic()
        return f"idle for {limit:g}s: sent ENDUSER, released the lock on {user}"

    def start_recording(self, path: str) -> None:
        from syncsh.transcript.record import Recorder
        if self.session is None or self.session.banner is None:
            raise UsageError("not connected: nothing to record")
        self.stop_recording()
        try:
            self.recorder = Recorder(path, self.target, self.session.banner)
        except OSError as exc:
            raise UsageError(f"cannot record to {path}: {exc.strerror}") from None
        self.warn(f"recording to {path}")

    def stop_recording(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
            self.warn(f"recorded {self.recorder.path}")
            self.recorder = None



def process_environment():
    """This process's streams and variables, for a caller that gave no Environment."""
    from syncsh.environment import Environment
    return Environment.of_process()


def _reply_lines(raw: bytes) -> list[str]:
    text = raw.decode("utf-8", "surrogateescape")
    return (text[:-2] if text.endswith("\r\n") else text).split("\r\n")
