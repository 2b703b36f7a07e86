"""The interactive console: prompt, completion, highlighting, history, toolbar, meta-commands
and the guard rail, over one Session."""

from __future__ import annotations

import os
import sys
import time

from syncsh.errors import ConnectionLost, SyncshError, UsageError, internal_error_line
from syncsh.printable import printable, printable_bytes
from syncsh.protocol import commands as C
from syncsh.repl.paste import SNIPPET_START, snippet_commands

from syncsh.repl.help import META  # noqa: F401  (the completer's list, imported from here)


def history_path() -> str:
    from syncsh.demo import data_dir
    return os.path.join(data_dir(), "history")


def is_secret(line: str) -> bool:
    """Lines that never enter history: authentication and anything carrying a literal."""
    from syncsh.private import is_secret as secret
    return secret(line) or ("{" in line and "}" in line)


def make_history(path: str):
    from prompt_toolkit.history import FileHistory

    from syncsh import private

    class FilteredHistory(FileHistory):
        def store_string(self, string: str) -> None:
            if not is_secret(string):
                super().store_string(string)

        def append_string(self, string: str) -> None:
            if is_secret(string):
                return
            super().append_string(string)

    private.ensure_dir(os.path.dirname(path))
    private.touch(path)                     # 0600 before the first line goes in
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
        self.pager = "off" if args.no_pager else "auto"
        self.ask = None                 # question -> answer line (the REPL's own prompt)
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

    def meta(self, line: str) -> None:
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word in ("\\q", "\\quit", "\\exit"):
            raise EOFError
        from syncsh.repl.help import find_meta, usage
        meta = find_meta(word)
        word = meta.name if meta is not None else word
        if word == "\\help":
            self.help(rest)
        elif word == "\\info":
            for line in self.info():
                print(line)
        elif word in ("\\connect", "\\reconnect"):
            from syncsh.targets import parse_target
            if word == "\\reconnect":
                rest = self.target.text
            if not rest:
                raise UsageError(usage("\\connect"))
            lost = self.describe_loss()
            self.stop_recording()
            self.connect(parse_target(rest, options=self.target.options)
                         if rest != self.target.text else self.target)
            if lost:
                print(lost, file=sys.stderr)
        elif word == "\\format":
            if rest not in ("table", "raw", "json"):
                raise UsageError(usage(word) + (f" (now {self.fmt})" if not rest else ""))
            print(f"format {rest}" + (" (was the same)" if rest == self.fmt else
                                      f" (was {self.fmt})"), file=sys.stderr)
            self.fmt = rest
        elif word == "\\pager":
            if rest not in ("on", "off", "auto"):
                raise UsageError(usage(word) + (f" (now {self.pager})" if not rest else ""))
            self.pager = rest
            print({"on": "pager on: every reply goes through the pager",
                   "off": "pager off: replies are never paged",
                   "auto": "pager auto: a table taller than the window is paged"}[rest],
                  file=sys.stderr)
        elif word == "\\trace":
            if rest not in ("on", "off", ""):
                raise UsageError(usage(word))
            self.trace = rest != "off"
            print(f"trace {'on' if self.trace else 'off'}", file=sys.stderr)
        elif word == "\\record":
            if not rest:
                raise UsageError(usage(word))
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
            import difflib
            close = difflib.get_close_matches(word, [m for m, _ in META], n=1, cutoff=0.6)
            raise UsageError(f"unknown meta-command {word}"
                             + (f"; did you mean {close[0]}?" if close else "")
                             + "; \\help lists them")

    def diff(self, rest: str) -> None:
        """\\diff MASTER REPLICA ('.' is this session's target), \\diff PAIR, or \\diff OTHER:
        this target's role then comes from the config's pairs (or the demo pair), else
        the user is asked; never assumed (a reversed diff suggests overwriting the master)."""
        import shlex
        from syncsh.diff.cli import run as run_diff
        try:
            words = shlex.split(rest)
        except ValueError as exc:
            raise UsageError(f"\\diff: {exc}") from None
        ends = []
        while words and not words[0].startswith("-") and len(ends) < 2:
            ends.append(self.target.text if words[0] == "." else words[0])
            words.pop(0)
        if not ends:
            from syncsh.repl.help import usage
            raise UsageError(usage("\\diff") + "  ('.' is this target; \\help \\diff)")
        if len(ends) == 1:
            given = words.index("--config") if "--config" in words[:-1] else None
            ends = self.diff_roles(ends[0], words[given + 1] if given is not None else
                                   getattr(self.args, "config", None))
        held = self.session.user if self.session is not None else None
        if held and held in words:
            raise UsageError(f"this session holds the lock on {held}: ENDUSER first "
                             "(diff would wait for it)")
        config = ["--config", self.args.config] if getattr(self.args, "config", None) and \
            "--config" not in words else []
        status = run_diff([*ends, *words, *config])
        print(f"(diff exit status {status})", file=sys.stderr)

    def diff_roles(self, other: str, config_file: str | None) -> list[str]:
        """MASTER, REPLICA for \\diff OTHER (or [PAIR] for a configured pair's name)."""
        from syncsh import config as configuration
        here = self.target.text
        pairs = configuration.load(config_file).pairs
        if other in pairs:
            return [other]
        for pair in pairs.values():
            if {pair.master, pair.replica} == {here, other}:
                return [pair.master, pair.replica]
        from syncsh import demo
        if here.startswith("demo:") and other.startswith("demo:") and here != other:
            return [f"demo:{demo.NAMES[0]}", f"demo:{demo.NAMES[1]}"]   # the demo's own roles
        if self.ask is None:
            raise UsageError(f"which is the master? \\diff MASTER REPLICA ('.' for {here})")
        answer = self.ask(f"Is {here} the master or the replica of {other}? [m/r] ")
        answer = answer.strip().lower()
        if answer in ("m", "master"):
            return [here, other]
        if answer in ("r", "replica"):
            return [other, here]
        raise UsageError("no diff: say m or r (or \\diff MASTER REPLICA)")

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
        from syncsh.repl import help as helps
        if not topic:
            lines = helps.overview(self.table)
        elif topic.lower() == "target":
            lines = helps.target_forms() + [""] + self.info()
        else:
            lines = helps.topic_help(self.table, topic)
            if lines is None:
                guess = C.did_you_mean(self.table, topic)
                print(f"no command {topic!r} here"
                      + (f"; did you mean {guess}?" if guess else "") + "; \\help lists them",
                      file=sys.stderr)
                return
        print("\n".join(lines))

    def info(self) -> list[str]:
        from syncsh.repl.help import session_info
        return session_info(self)

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

    answers = []        # a prompt of its own: an answer (y) never enters the history

    def ask(question: str) -> str:
        if not answers:
            answers.append(PromptSession(input=input, output=output))
        try:
            return answers[0].prompt(question)
        except (EOFError, KeyboardInterrupt):
            return ""

    def confirm(question: str) -> bool:
        return ask(question).strip().lower() in ("y", "yes")
    console.ask = ask

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
        line = C.join_continued(pending, text) if pending else text
        if "\n" in line.strip() or SNIPPET_START.match(line):
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
            print(f"syncsh: {printable(str(exc))} "
                  f"(\\reconnect to open {console.target.text} again)",
                  file=sys.stderr)
        except SyncshError as exc:
            print(f"syncsh: {printable(str(exc))}", file=sys.stderr)
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
        print(f"syncsh: {printable(str(exc))}", file=sys.stderr)
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
                run_in_terminal(lambda exc=exc: print(f"syncsh: {printable(str(exc))}",
                                                      file=sys.stderr))
            else:
                run_in_terminal(lambda exc=exc: say_internal_error(exc, console.args.debug))
            return
        console.banner_due = True
        run_in_terminal(console.show_banner_if_due)
        prompt.app.invalidate()             # the toolbar now has a dialect and a banner

    asyncio.get_running_loop().call_soon(open_now)


def _ask(question: str) -> str | None:
    """The answer typed to a host-key question (which wants 'yes'); None if abandoned."""
    from prompt_toolkit.shortcuts import prompt
    try:
        return prompt(question)
    except (EOFError, KeyboardInterrupt):
        return None


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
            print(f"syncsh: {printable(str(exc))}", file=sys.stderr)
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
