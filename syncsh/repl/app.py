"""The interactive console: prompt, completion, highlighting, history, toolbar, meta-commands
and the guard rail, over one Session."""

from __future__ import annotations

import os
import sys
import time

from syncsh.errors import ConnectionLost, SyncshError, UsageError, internal_error_line
from syncsh.protocol import commands as C

META = [
    ("\\help", "help, or \\help COMMAND"),
    ("\\connect", "\\connect TARGET: open another target"),
    ("\\reconnect", "open the same target again (after a dropped connection)"),
    ("\\format", "\\format table|raw|json"),
    ("\\trace", "\\trace on|off: both directions with timings"),
    ("\\history", "show this session's commands"),
    ("\\record", "\\record FILE | \\record off: write the session as a transcript"),
    ("\\upload", "\\upload FILE MAILBOX [FLAG …]: add a message file (modern dialect; a write)"),
    ("\\diff", "\\diff OTHER --user U …: how this target (master) and OTHER (replica) differ"),
    ("\\quit", "leave (Ctrl-D too)"),
]


def audit(target: str, line: str) -> None:
    """Every write sent to a non-demo target: time, target, command (never a secret:
    authentication is not a write)."""
    from syncsh.demo import data_dir
    path = os.path.join(data_dir(), "audit.log")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with open(path, "a", encoding="utf-8", errors="replace") as handle:
            handle.write(f"{stamp}\t{target}\t{line}\n")
    except OSError as exc:
        print(f"syncsh: cannot write the audit log {path}: {exc.strerror}", file=sys.stderr)


def snippet_commands(text: str) -> tuple[list[str], list[str]]:
    """The client lines of pasted text, and the shell lines that will not be run.

    A snippet from the document (C:/S: prefixes, # annotations, \\ continuations of S:
    lines) runs its C: lines in order; plain lines are commands each."""
    from syncsh.transcript.parse import classify
    lines = [classify(i, raw) for i, raw in enumerate(text.replace("\r\n", "\n").split("\n"))]
    prefixed = any(line.kind in ("C", "S") for line in lines)
    commands, skipped = [], []
    for line in lines:
        if prefixed and line.kind != "C":
            continue
        command = line.text if line.kind in ("C", "S", "text") else (
            line.raw.strip() if line.kind not in ("blank", "#") else "")
        if not command:
            continue
        (skipped if command.startswith("$") else commands).append(command)
    return commands, skipped


def history_path() -> str:
    from syncsh.demo import data_dir
    return os.path.join(data_dir(), "history")


def is_secret(line: str) -> bool:
    """Lines that never enter history: authentication and anything carrying a literal."""
    return line.lstrip().upper().startswith("AUTHENTICATE") or ("{" in line and "}" in line)


def make_history(path: str):
    from prompt_toolkit.history import FileHistory

    class FilteredHistory(FileHistory):
        def store_string(self, string: str) -> None:
            if not is_secret(string):
                super().store_string(string)

        def append_string(self, string: str) -> None:
            if is_secret(string):
                return
            super().append_string(string)

    os.makedirs(os.path.dirname(path), exist_ok=True)
    return FilteredHistory(path)


def make_lexer(table):
    from prompt_toolkit.lexers import Lexer

    class ProtocolLexer(Lexer):
        def lex_document(self, document):
            current = table() if callable(table) else table

            def line(i):
                return lex_line(current, document.lines[i])
            return line

    return ProtocolLexer()


def lex_line(table, text: str):
    """(style, text) fragments of one input line; the same classes colour replies."""
    out = []
    word, sep, rest = text.partition(" ")
    if word.startswith("\\"):
        out.append(("class:meta", word))
    else:
        spec = C.lookup(table, text)
        style = "class:unknown" if spec is None and word else \
            "class:write" if spec is not None and spec.write else "class:command"
        out.append((style, word))
    out.append(("", sep))
    token = ""
    for ch in rest:
        if ch in " ()":
            if token:
                out.append((_arg_style(token), token))
                token = ""
            out.append(("class:paren" if ch != " " else "", ch))
        else:
            token += ch
    if token:
        out.append((_arg_style(token), token))
    return out


def _arg_style(token: str) -> str:
    if token.isdigit():
        return "class:number"
    if token.startswith("\\"):
        return "class:sysflag"
    if token.startswith('"'):
        return "class:string"
    return "class:arg"


STYLE = {
    "command": "bold ansicyan", "write": "bold ansiyellow", "unknown": "ansired",
    "meta": "bold ansimagenta", "number": "ansigreen", "sysflag": "ansimagenta",
    "string": "ansiyellow", "paren": "ansibrightblack", "arg": "",
    "bottom-toolbar": "bg:#222222 #cccccc", "toolbar.key": "bold", "toolbar.warn": "bg:#882222 #ffffff",
}


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
        self.last_activity = time.monotonic()
        self.banner_due = False

    @property
    def table(self):
        """The command table of the dialect spoken now."""
        from syncsh.cli import expected_dialect
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
        session = open_session(target, timeout=self.args.timeout, dialect=self.args.dialect,
                               on_stderr=self._server_stderr)
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
            print(f"  [server stderr] {line}", file=sys.stderr)

    def _renderer(self, out=None):
        from syncsh.render import make_renderer
        return make_renderer(self.fmt, out or self.out,
                             color=False if self.args.no_color else None)

    # ------------------------------------------------------------------ toolbar
    def toolbar(self, text_now: str = ""):
        s = self.session
        parts = [("class:toolbar.key", f" {self.target.text} ")]
        if s is not None:
            banner = s.banner.text if s.banner else ""
            parts.append(("", f"{s.dialect} · {banner[:40]} "))
            if s.user:
                held = time.monotonic() - (s.user_since or time.monotonic())
                parts.append(("class:toolbar.warn", f" lock {s.user} {held:.0f}s "))
            if s.selected:
                parts.append(("", f" [{s.selected}]"))
            if s.last_rtt is not None:
                parts.append(("", f"  rtt {s.last_rtt * 1000:.1f}ms"))
            if s.closed:
                parts.append(("class:toolbar.warn", " disconnected: \\reconnect "))
        spec = C.lookup(self.table, text_now) if text_now else None
        if spec is not None:
            parts.append(("", f"   {spec.syntax}"))
            if spec.write:
                parts.append(("class:toolbar.warn", " write "))
        return parts

    # ------------------------------------------------------------------ commands
    def guard(self, line: str, confirm, *, write: bool | None = None,
              name: str | None = None) -> bool:
        from syncsh import guard
        write = C.is_write(self.table, line) if write is None else write
        name = name or C.command_name(self.table, line)
        verdict = guard.decide(write, self.target, read_only=self.args.read_only,
                               allow_writes=self.args.allow_writes)
        if verdict == guard.REFUSE:
            print(f"refused: {name} writes to the replica and --read-only is set", file=sys.stderr)
            return False
        if verdict == guard.CONFIRM:
            if confirm(f"{name} changes {self.target.text}. Send it? [y/N] "):
                return True
            print(f"not sent: {name}", file=sys.stderr)
            return False
        return True

    def run_line(self, line: str, confirm) -> None:
        line = line.strip()
        if not line:
            return
        if line.startswith("\\upload"):
            self.upload(line.partition(" ")[2], confirm)
            return
        if line.startswith("\\"):
            self.meta(line)
            return
        problem = C.check_line(self.table, line)
        if problem:
            print(f"not sent: {problem}", file=sys.stderr)
            return
        if not self.guard(line, confirm):
            return
        if self.session is None or self.session.closed:
            print("not connected: use \\connect TARGET", file=sys.stderr)
            return
        self.commands_run.append(line)
        from syncsh.repl.pager import PagedOutput, PagerQuit
        out = PagedOutput(self.out, enabled=not self.args.no_pager and self.fmt == "table")
        renderer = self._renderer(out)
        reply: list[str] = []
        hooks = []
        if self.trace:
            start = time.monotonic()

            def trace(direction, raw, start=start):
                print(f"{time.monotonic() - start:8.4f} {direction}: "
                      f"{raw.decode('utf-8', 'replace').rstrip()}", file=sys.stderr)
            hooks.append(trace)
        if self.fmt == "raw":
            hooks.append(renderer.wire)
        if self.recorder is not None:
            hooks.append(lambda d, raw: d == "S" and reply.extend(_reply_lines(raw)))
        self.session.on_wire = (lambda d, raw: [h(d, raw) for h in hooks]) if hooks else None
        write = C.is_write(self.table, line)
        events = self.session.execute(line, batches=True)
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
            if write and not self.target.is_demo:
                audit(self.target.text, line)
            renderer.flush()
            out.close()
            if self.recorder is not None:
                self.recorder.command(line, reply)

    def _drain(self, events) -> None:
        self.session.on_wire = None
        for _ in events:
            pass

    def upload(self, rest: str, confirm) -> None:
        from syncsh.upload import parse_args, upload
        path, mailbox, flags = parse_args(rest)
        if self.session is None or self.session.closed:
            print("not connected: use \\connect TARGET", file=sys.stderr)
            return
        if not self.guard(rest, confirm, write=True, name="\\upload"):
            return
        self.session.on_wire = None
        message = upload(self.session, path, mailbox, flags)
        if not self.target.is_demo:
            audit(self.target.text, f"\\upload {rest}")
        print(message)

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

    def meta(self, line: str) -> None:
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word in ("\\q", "\\quit", "\\exit"):
            raise EOFError
        if word in ("\\h", "\\help", "\\?"):
            self.help(rest)
        elif word in ("\\connect", "\\reconnect"):
            from syncsh.targets import parse_target
            if word == "\\reconnect":
                rest = self.target.text
            if not rest:
                raise UsageError("\\connect TARGET")
            lost = self.describe_loss()
            self.stop_recording()
            self.connect(parse_target(rest, options=self.target.options)
                         if rest != self.target.text else self.target)
            if lost:
                print(lost, file=sys.stderr)
        elif word == "\\format":
            if rest not in ("table", "raw", "json"):
                raise UsageError("\\format table|raw|json")
            self.fmt = rest
        elif word == "\\trace":
            self.trace = rest != "off"
            print(f"trace {'on' if self.trace else 'off'}", file=sys.stderr)
        elif word == "\\record":
            if not rest:
                raise UsageError("\\record FILE | \\record off")
            if rest == "off":
                self.stop_recording()
            else:
                self.start_recording(rest)
        elif word == "\\diff":
            self.diff(rest)
        elif word == "\\history":
            for i, cmd in enumerate(self.commands_run, 1):
                print(f"{i:4}  {cmd}")
        else:
            raise UsageError(f"unknown meta-command {word}; \\help lists them")

    def diff(self, rest: str) -> None:
        """This target as the master, another as the replica, on fresh connections."""
        import shlex
        from syncsh.diff.cli import run as run_diff
        try:
            words = shlex.split(rest)
        except ValueError as exc:
            raise UsageError(f"\\diff: {exc}") from None
        if not words or words[0].startswith("-"):
            raise UsageError("\\diff OTHER --user U … (this target is the master)")
        held = self.session.user if self.session is not None else None
        if held and held in words:
            raise UsageError(f"this session holds the lock on {held}: ENDUSER first "
                             "(diff would wait for it)")
        status = run_diff([self.target.text, *words])
        print(f"(diff exit status {status})", file=sys.stderr)

    def describe_loss(self) -> str:
        s = self.session
        if s is None or not s.closed:
            return ""
        lost = []
        if s.user:
            lost.append(f"the lock on {s.user}")
        if s.selected:
            lost.append(f"the selected mailbox {s.selected}")
        return ("reconnected; lost: " + ", ".join(lost) + " (and any staged messages)") if lost \
            else "reconnected; any staged messages were lost"

    def help(self, topic: str) -> None:
        if topic:
            spec = C.lookup(self.table, topic.lstrip("\\"))
            if spec is None:
                print(f"no command {topic!r}; \\help lists them")
                return
            kind = "writes to the replica" if spec.write else "reads only"
            needs = {"U": "a current user", "M": "a selected mailbox",
                     "UM": "a current user and a selected mailbox"}.get(spec.needs)
            print(f"{spec.syntax}\n  {spec.summary}\n  {kind}" + (f"; needs {needs}" if needs else ""))
            for arg in spec.args:
                print(f"  {arg.name}: {arg.kind}" + (" (one or more)" if arg.repeat else ""))
            return
        width = max(len(n) for n in self.table)
        for name, spec in self.table.items():
            mark = "w" if spec.write else " "
            print(f"  {name:<{width}} {mark} {spec.summary}")
        print("\n  w = writes to the replica.  Meta-commands:")
        for name, summary in META:
            print(f"  {name:<{width}}   {summary}")


def _reply_lines(raw: bytes) -> list[str]:
    text = raw.decode("utf-8", "surrogateescape")
    return (text[:-2] if text.endswith("\r\n") else text).split("\r\n")


def run_repl(target, args, *, input=None, output=None, record: str | None = None) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.styles import Style

    from syncsh.repl.completer import SyncCompleter
    from syncsh.repl.keys import make_key_bindings

    console = Console(target, args)
    target.options.interactive = True
    target.options.ask = _ask
    target.options.secret = _secret
    # A target that can ask nothing while it opens (the in-process demo) is opened just after
    # the first prompt is drawn; any other is opened first, as its questions need the terminal.
    open_later = target.opens_quietly and record is None
    if not open_later:
        _connect_or_say(console, target)
    prompt = PromptSession(
        history=make_history(history_path()),
        auto_suggest=AutoSuggestFromHistory(),
        lexer=make_lexer(lambda: console.table),
        style=Style.from_dict(STYLE),
        complete_while_typing=True,
        complete_in_thread=True,
        enable_history_search=False,
        input=input, output=output,
    )
    if record is not None:
        console.start_recording(record)
    completer = SyncCompleter(lambda: console.table, lambda: _learnt(console), _StateView(console),
                              META)
    prompt.completer = completer
    prompt.key_bindings = make_key_bindings(completer)

    def confirm(question: str) -> bool:
        try:
            return prompt.prompt(question, completer=None, auto_suggest=None,
                                 bottom_toolbar=None).strip().lower() in ("y", "yes")
        except (EOFError, KeyboardInterrupt):
            return False

    def pre_run() -> None:
        nonlocal open_later
        if open_later:
            open_later = False
            _open_after_first_paint(console, target, prompt)
        _watch_idle(console, prompt)

    pending = ""
    while True:
        try:
            text = prompt.prompt("... " if pending else "syncsh> ",
                                 bottom_toolbar=lambda: console.toolbar(
                                     prompt.default_buffer.text),
                                 refresh_interval=1.0,
                                 pre_run=pre_run)
        except KeyboardInterrupt:
            pending = ""
            continue
        except EOFError:
            break
        console.show_banner_if_due()
        line = f"{pending} {text}".strip() if pending else text
        if "\n" in line.strip() or line.lstrip().startswith(("C:", "S:")):
            pending = ""
            run_snippet(console, line, confirm)
            continue
        if C.unbalanced(line) and not line.lstrip().startswith("\\"):
            pending = line          # an open list or quote goes on on the next line
            continue
        pending = ""
        try:
            console.run_line(line, confirm)
        except EOFError:
            break
        except ConnectionLost as exc:
            print(f"syncsh: {exc} (\\reconnect to open {console.target.text} again)",
                  file=sys.stderr)
        except SyncshError as exc:
            print(f"syncsh: {exc}", file=sys.stderr)
        except Exception as exc:            # a bug of ours: one line, and the session goes on
            say_internal_error(exc, console.args.debug)
    console.stop_recording()
    if console.session is not None:
        console.session.close()
    return 0


def _connect_or_say(console: Console, target) -> None:
    try:
        console.connect(target)
    except SyncshError as exc:
        print(f"syncsh: {exc}", file=sys.stderr)
        console.session = None


def _open_after_first_paint(console: Console, target, prompt) -> None:
    """Open the session in the event loop's first turn: after the prompt is drawn (start-up
    is judged by when it appears) and before any key is read, so that a line typed ahead
    still finds the session open.  The banner is printed above the prompt."""
    import asyncio
    from prompt_toolkit.application import run_in_terminal

    def open_now() -> None:
        try:
            console.open(target)
        except Exception as exc:            # said in one line, as before a prompt
            console.session = None
            # (exc= binds it now: the name is gone once the except clause ends)
            if isinstance(exc, SyncshError):
                run_in_terminal(lambda exc=exc: print(f"syncsh: {exc}", file=sys.stderr))
            else:
                run_in_terminal(lambda exc=exc: say_internal_error(exc, console.args.debug))
            return
        console.banner_due = True
        run_in_terminal(console.show_banner_if_due)
        prompt.app.invalidate()             # the toolbar now has a dialect and a banner

    asyncio.get_running_loop().call_soon(open_now)


def _ask(question: str) -> bool:
    from prompt_toolkit.shortcuts import prompt
    try:
        return prompt(question).strip().lower() in ("y", "yes")
    except (EOFError, KeyboardInterrupt):
        return False


def _secret(question: str) -> str:
    from prompt_toolkit.shortcuts import prompt
    try:
        return prompt(question, is_password=True)
    except (EOFError, KeyboardInterrupt):
        return ""


def run_snippet(console: Console, text: str, confirm) -> None:
    commands, skipped = snippet_commands(text)
    for shell in skipped:
        print(f"not run (a shell line): {shell}", file=sys.stderr)
    for command in commands:
        print(f"syncsh> {command}")
        try:
            console.run_line(command, confirm)
        except SyncshError as exc:
            print(f"syncsh: {exc}", file=sys.stderr)
            break
        except Exception as exc:
            say_internal_error(exc, console.args.debug)
            break


def say_internal_error(exc: Exception, debug: bool) -> None:
    if debug:
        import traceback
        traceback.print_exception(exc)
    print(internal_error_line(exc, debug), file=sys.stderr)


def _watch_idle(console: Console, prompt) -> None:
    """While the prompt waits, check once a second whether a held lock went idle."""
    import asyncio
    from prompt_toolkit.application import run_in_terminal

    app = prompt.app

    async def watch():
        while True:
            await asyncio.sleep(1.0)
            if console.session is None or not console.session.user:
                continue
            message = None

            def release():
                nonlocal message
                message = console.release_idle_lock()
                if message:
                    print(message, file=sys.stderr)
            await run_in_terminal(release)

    app.create_background_task(watch())


class _StateView:
    """What the completer needs of the session, following reconnects."""

    def __init__(self, console: Console) -> None:
        self.console = console

    @property
    def user(self):
        return self.console.session.user if self.console.session else None

    @property
    def selected(self):
        return self.console.session.selected if self.console.session else None


def _learnt(console: Console):
    from syncsh.session import Learnt
    return console.session.learnt if console.session else Learnt()
