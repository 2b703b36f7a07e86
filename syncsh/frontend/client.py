"""``syncsh [TARGET] [-c COMMAND]… [-f FILE]…``: the console, one-shot or the REPL."""

from __future__ import annotations

from syncsh.argparsing import parse
import argparse

from syncsh.errors import UsageError
from syncsh.status import ExitStatus

DEFAULT_TARGET = "demo:cyrus-2"


def parser() -> argparse.ArgumentParser:
    from syncsh import __version__
    from syncsh.argparsing import Parser
    from syncsh.options import Ordered, add_client_options, target_forms_help
    p = Parser(prog="syncsh", description="A console for the Cyrus IMAP replication protocol.",
               formatter_class=argparse.RawDescriptionHelpFormatter,
               epilog=target_forms_help() + "\n\nOther commands (each with --help):\n"
                      "  syncsh server | demo | replicate | replay | record | diff | tap")
    p.add_argument("--version", action="version", version=f"syncsh {__version__}")
    p.add_argument("target", nargs="?", help="where to connect: one of the target forms below "
                                             f"(default {DEFAULT_TARGET})")
    p.add_argument("-c", dest="c", action=Ordered, metavar="COMMAND",
                   help="run COMMAND (repeatable; runs all in order, then exits)")
    p.add_argument("-f", dest="f", action=Ordered, metavar="FILE",
                   help="run the commands in FILE, one a line ('-' for stdin)")
    add_client_options(p)
    return p


def run(argv: list[str], env) -> ExitStatus:
    args = parse(parser(), argv, env)
    from syncsh.options import target_options
    from syncsh.targets import parse_target
    items = getattr(args, "script", None)
    if not items and env.stdin is None:
        raise UsageError("standard input is closed: give commands with -c COMMAND or -f FILE")
    if not items and not env.stdin_isatty:
        items = [("f", "-")]        # commands piped in (syncsh < FILE): as -f - would run them
    script = read_script(items, env)
    if args.no_color:
        env.color = False
    target = parse_target(args.target or DEFAULT_TARGET,
                          options=target_options(args, env, interactive=not items))
    if not items:
        from syncsh.repl.loop import run_repl
        return ExitStatus(run_repl(target, args, env=env))
    from syncsh.frontend.one_shot import run_one_shot
    return run_one_shot(target, args, script, env)


def read_script(items, env) -> list[str]:
    """The lines of -c and -f, in their order on the command line."""
    lines = []
    for kind, value in items or []:
        if kind == "c":
            lines.append(value)
            continue
        try:
            if value == "-":
                if env.stdin is None:
                    raise UsageError("-f -: standard input is closed")
                text = env.stdin.read()
            else:
                with open(value, encoding="utf-8", errors="surrogateescape") as handle:
                    text = handle.read()
        except OSError as exc:
            raise UsageError(f"cannot read {value}: {exc.strerror}") from None
        # each line trimmed as the REPL trims what is typed (` NOOP` is NOOP)
        lines += [line.strip() for line in text.split("\n")
                  if line.strip() and not line.lstrip().startswith("#")]
    return lines
