"""The prompt and its loop: a prompt_toolkit session over a Console, lines typed or pasted,
questions asked at the terminal, the idle lock watched."""

from __future__ import annotations

from syncsh.errors import ConnectionLost, SyncshError, internal_error_line
from syncsh.printable import printable
from syncsh.protocol import commands as C
from syncsh.repl.app import Console
from syncsh.repl.history import history_path, make_history
from syncsh.repl.meta import Quit
from syncsh.repl.paste import SNIPPET_START, snippet_commands
from syncsh.status import ExitStatus


def run_repl(target, args, *, input=None, output=None, record: str | None = None,
             env=None) -> int:
    """The console on target until \\quit or Ctrl-D.  env: the front end's Environment
    (syncsh/environment.py); this process's when None.  input/output: the
    prompt's own (prompt_toolkit's defaults, the terminal or a test's pipe, when None)."""
    console = Console(target, args, env=env)
    target.options.interactive = True
    target.options.ask = _ask
    target.options.secret = _secret
    # A target that can ask nothing while it opens (the in-process demo) is opened just after
    # the first prompt is drawn; any other is opened first, as its questions need the terminal.
    open_later = target.opens_quietly and record is None
    if not open_later:
        _connect_or_say(console, target)
    repl = Repl(console, input=input, output=output, open_later=open_later)
    try:
        if record is not None:
            console.start_recording(record)
        repl.run()
    finally:
        console.stop_recording()
        if console.session is not None:
            console.session.close()
    return ExitStatus.OK


class Repl:
    """The prompt over one Console: reads entries (a line left open goes on at the next
    prompt; a paste is a snippet), keeps each in the history once, and runs it."""

    def __init__(self, console: Console, *, input=None, output=None,
                 open_later: bool = False) -> None:
        self.console = console
        self.input, self.output = input, output
        self.open_later = open_later
        self.pending = ""               # the start of an entry left open (a list, a quote)
        self.answers = None             # the prompt answers are typed at (never in history)
        self.history = make_history(history_path(console.env))
        self.prompt = self._prompt_session()
        console.ask = self.ask

    def _prompt_session(self):
        from prompt_toolkit import PromptSession
        from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
        from prompt_toolkit.styles import Style

        from syncsh.repl.completer import SyncCompleter
        from syncsh.repl.keys import make_key_bindings
        from syncsh.repl.lexer import STYLE, make_lexer
        console = self.console
        # --no-color (or NO_COLOR) takes the colour out of what is typed and the toolbar too
        no_color = console.args.no_color or console.env.color is False
        completer = SyncCompleter(lambda: console.table, lambda: _learnt(console),
                                  _StateView(console))     # and the meta-command table
        return PromptSession(
            history=self.history, auto_suggest=AutoSuggestFromHistory(),
            lexer=make_lexer(lambda: console.table), style=Style.from_dict(STYLE),
            color_depth=_monochrome() if no_color else None,
            completer=completer, key_bindings=make_key_bindings(completer),
            complete_while_typing=True, complete_in_thread=True,
            enable_history_search=False, input=self.input, output=self.output)

    def ask(self, question: str) -> str:
        """An answer typed at a prompt of its own: an answer (y) never enters the history."""
        from prompt_toolkit import PromptSession
        if self.answers is None:
            self.answers = PromptSession(input=self.input, output=self.output)
        try:
            return self.answers.prompt(question)
        except (EOFError, KeyboardInterrupt):
            return ""

    def confirm(self, question: str) -> bool:
        return self.ask(question).strip().lower() in ("y", "yes")

    def run(self) -> None:
        """Entries until Ctrl-D or \\quit; Ctrl-C drops the entry being typed."""
        while True:
            try:
                text = self._read()
            except KeyboardInterrupt:
                self.pending = ""
                continue
            except EOFError:
                return
            try:
                self.take(text)
            except Quit:
                return

    def _read(self) -> str:
        return self.prompt.prompt("... " if self.pending else "syncsh> ",
                                  bottom_toolbar=lambda: self.console.toolbar(
                                      self.prompt.default_buffer.text),
                                  refresh_interval=1.0, pre_run=self._pre_run)

    def _pre_run(self) -> None:
        if self.open_later:
            self.open_later = False
            _open_after_first_paint(self.console, self.console.target, self.prompt)
        _watch_idle(self.console, self.prompt)

    def take(self, text: str) -> None:
        """One piece typed: the rest of an open entry, a whole entry, or a paste."""
        self.console.show_banner_if_due()
        entry = C.join_continued(self.pending, text) if self.pending else text
        if "\n" in entry.strip() or SNIPPET_START.match(entry):
            self.pending = ""
            self.history.keep(entry)
            run_snippet(self.console, entry, self.confirm)
            return
        if C.unbalanced(entry) and not entry.lstrip().startswith("\\"):
            self.pending = entry        # an open list or quote goes on on the next line
            return
        self.pending = ""
        self.history.keep(entry)        # the entry as typed: one line, its pieces joined
        self.run_line(entry)

    def run_line(self, line: str) -> None:
        """One line run; whatever goes wrong is said in one line and the session goes on."""
        console = self.console
        try:
            console.run_line(line, self.confirm)
        except Quit:
            raise
        except ConnectionLost as exc:
            console.warn(f"syncsh: {printable(str(exc))} "
                         f"(\\reconnect to open {console.target.text} again)")
        except SyncshError as exc:
            console.warn(f"syncsh: {printable(str(exc))}")
        except Exception as exc:            # a bug of ours: one line, and the session goes on
            say_internal_error(console, exc)


def _monochrome():
    from prompt_toolkit.output import ColorDepth
    return ColorDepth.DEPTH_1_BIT


def _connect_or_say(console: Console, target) -> None:
    try:
        console.connect(target)
    except SyncshError as exc:
        console.warn(f"syncsh: {printable(str(exc))}")
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
                run_in_terminal(lambda exc=exc: console.warn(f"syncsh: {printable(str(exc))}"))
            else:
                run_in_terminal(lambda exc=exc: say_internal_error(console, exc))
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


def _secret(question: str) -> str | None:
    """A password or passphrase, typed with no echo at all (not even its length, as
    getpass does it); None if abandoned (Ctrl-C, Ctrl-D)."""
    from prompt_toolkit.layout.processors import PasswordProcessor
    from prompt_toolkit.shortcuts import prompt
    try:
        return prompt(question, input_processors=[PasswordProcessor(char="")])
    except (EOFError, KeyboardInterrupt):
        return None


def run_snippet(console: Console, text: str, confirm) -> None:
    """A pasted snippet's client lines, each shown as if typed; the first that fails stops
    the rest (they were written to follow it)."""
    commands, skipped = snippet_commands(text)
    for shell in skipped:
        console.warn(f"not run (a shell line): {shell}")
    for command in commands:
        console.say(f"syncsh> {command}")
        try:
            console.run_line(command, confirm)
        except Quit:
            raise
        except SyncshError as exc:
            console.warn(f"syncsh: {printable(str(exc))}")
            break
        except Exception as exc:
            say_internal_error(console, exc)
            break


def say_internal_error(console: Console, exc: Exception) -> None:
    debug = console.args.debug
    if debug:
        import traceback
        traceback.print_exception(exc, file=console.env.stderr)
    console.warn(internal_error_line(exc, debug))


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

            def release():
                message = console.release_idle_lock()
                if message:
                    console.warn(message)
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
