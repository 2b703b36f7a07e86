"""The console over one Session: connecting, running a line (the guard rail, rendering,
paging, recording), \\upload, the idle lock. The prompt loop is in loop.py, meta-commands in
meta.py, history in history.py, highlighting in lexer.py, the toolbar in toolbar.py."""

from __future__ import annotations

import sys
import time

from syncsh.errors import SyncshError, UsageError
from syncsh.printable import printable, printable_bytes
from syncsh.protocol import commands as C


class Console:
    def __init__(self, target, args, *, input=None, output=None) -> None:
        self.target = target
        self.args = args
        self.fmt = args.format or "table"
        self.trace = False
        self.session = None
        self.commands_run: list[str] = []
        self.input = input
        self.output = output
        self.out = sys.stdout
        self.recorder = None
        self.pager = "off" if args.no_pager else "auto"
        self.ask = None                 # question -> answer line (the REPL's own prompt)
        self.last_activity = time.monotonic()
        self.banner_due = False

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
            print(f"  [server stderr] {printable(line)}", file=sys.stderr)

    def _renderer(self, out=None):
        from syncsh.render import make_renderer
        return make_renderer(self.fmt, out or self.out,
                             color=False if self.args.no_color else None)

    # ------------------------------------------------------------------ toolbar
    def toolbar(self, text_now: str = "", width: int | None = None):
        from syncsh.repl import toolbar
        parts = toolbar.segments(self.target.text, self.session, self.table, text_now)
        return toolbar.fitted(parts, width or toolbar.window_width())

    # ------------------------------------------------------------------ commands
    def guard(self, line: str, confirm, *, write: bool | None = None,
              name: str | None = None):
        """The guard rail's answer for a line (or \\upload, a write by name): None when it
        is not to be sent, else whether the user confirmed it."""
        from syncsh import guard
        if write is None:
            verdict = guard.judge(self.table, line, self.target, read_only=self.args.read_only,
                                  allow_writes=self.args.allow_writes)
            action, name = verdict.action, verdict.name
        else:
            action = guard.decide(write, self.target, read_only=self.args.read_only,
                                  allow_writes=self.args.allow_writes)
        if action == guard.REFUSE:
            print(guard.refusal(action, name, self.target, self.args.read_only), file=sys.stderr)
            return None
        if action == guard.CONFIRM:
            if confirm(f"{name} changes {self.target.text}. Send it? [y/N] "):
                return True
            print(f"not sent: {name}", file=sys.stderr)
            return None
        return False

    def run_line(self, line: str, confirm) -> None:
        line = line.strip()
        if not line or line.startswith("#"):     # an annotation, as in -f scripts
            return
        if line.startswith("\\upload"):
            self.upload(line.partition(" ")[2], confirm)
            return
        if line.startswith("\\"):
            from syncsh.repl.meta import run_meta
            run_meta(self, line)
            return
        problem = C.check_line(self.table, line)
        if problem:
            print(f"not sent: {problem}", file=sys.stderr)
            return
        guess = C.did_you_mean(self.table, line)
        if guess is not None:
            word = C.command_word(line)
            if not confirm(f"{word} is not a command here; did you mean {guess}? "
                           f"Send {word} as typed? [y/N] "):
                print(f"not sent: {word} (did you mean {guess}?)", file=sys.stderr)
                return
        confirmed = self.guard(line, confirm)
        if confirmed is None:
            return
        if self.session is None or self.session.closed:
            print(self.not_connected(), file=sys.stderr)
            return
        from syncsh.private import masked
        self.commands_run.append(masked(line))
        from syncsh.repl.pager import PagedOutput, PagerQuit
        # auto pages tables (raw and JSON lines are for copying and piping); on pages all
        out = PagedOutput(self.out, enabled=self.pager == "on" or
                          (self.pager == "auto" and self.fmt == "table"),
                          always=self.pager == "on")
        renderer = self._renderer(out)
        reply: list[str] = []
        hooks = []
        if self.trace:
            start = time.monotonic()

            def trace(direction, raw, start=start):
                from syncsh.private import masked
                shown = printable_bytes(raw.rstrip(b"\r\n"))     # server bytes: escaped
                print(f"{time.monotonic() - start:8.4f} {direction}: "
                      f"{masked(shown) if direction == 'C' else shown}", file=sys.stderr)
            hooks.append(trace)
        if self.fmt == "raw":
            hooks.append(renderer.wire)
        if self.recorder is not None:
            hooks.append(lambda d, raw: d == "S" and reply.extend(_reply_lines(raw)))
        self.session.on_wire = (lambda d, raw: [h(d, raw) for h in hooks]) if hooks else None
        self.session.wire_in_regions = not self.trace   # the trace times each line
        events = self.session.execute(line, batches=True, confirmed=confirmed)
        try:
            from syncsh.protocol.crc import checked
            for event in checked(line, events):
                renderer.event(event)
        except (KeyboardInterrupt, PagerQuit) as exc:
            # Stop showing at once; read the rest so the session stays in step.
            self._drain(events)
            if isinstance(exc, KeyboardInterrupt):
                if self.session.conn.in_flight is None:
                    print("(output stopped; the reply was read to its end)", file=sys.stderr)
                else:                       # interrupted while waiting on the server
                    print(f"(interrupted: the rest of the reply to {self.session.conn.in_flight}"
                          " is read and dropped before the next command)", file=sys.stderr)
        except SyncshError:
            raise
        except Exception:                   # a bug in showing it: the reply is still read
            self._drain(events)
            raise
        finally:
            self.last_activity = time.monotonic()
            renderer.flush()
            out.close()
            if self.recorder is not None:
                self.recorder.command(line, reply)
        if self.session.closed:             # EXIT (a lost connection raised, and says so)
            print(f"session ended: \\reconnect opens {self.target.text} again",
                  file=sys.stderr)

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
        from syncsh.upload import parse_args, upload
        path, mailbox, flags = parse_args(rest)
        if self.session is None or self.session.closed:
            print(self.not_connected(), file=sys.stderr)
            return
        confirmed = self.guard(rest, confirm, write=True, name="\\upload")
        if confirmed is None:
            return
        self.session.on_wire = None
        said = upload(self.session, path, mailbox, flags, confirmed=confirmed)
        if self.fmt == "json":              # JSON lines throughout, as one-shot use
            import json
            said = json.dumps({"type": "upload", "text": said})
        print(said)

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
        print(f"recording to {path}", file=sys.stderr)

    def stop_recording(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
            print(f"recorded {self.recorder.path}", file=sys.stderr)
            self.recorder = None

def _reply_lines(raw: bytes) -> list[str]:
    text = raw.decode("utf-8", "surrogateescape")
    return (text[:-2] if text.endswith("\r\n") else text).split("\r\n")
