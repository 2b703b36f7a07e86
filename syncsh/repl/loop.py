"""The prompt and its loop: a prompt_toolkit session over a Console, lines typed or pasted,
questions asked at the terminal, the idle lock watched."""

from __future__ import annotations

import sys

from syncsh.errors import ConnectionLost, SyncshError, internal_error_line
from syncsh.printable import printable
from syncsh.protocol import commands as C
from syncsh.repl.app import Console
from syncsh.repl.help import META
from syncsh.repl.history import history_path, make_history
from syncsh.repl.lexer import STYLE, make_lexer
from syncsh.repl.paste import SNIPPET_START, snippet_commands


def run_repl(target, args, *, input=None, output=None, record: str | None = None,
             env=None) -> int:
    # env: the front end's Environment (syncsh/environment.py)
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
