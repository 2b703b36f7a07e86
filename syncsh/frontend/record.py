"""``syncsh record FILE TARGET``: the REPL on TARGET, every exchange kept as a transcript."""

from __future__ import annotations

from syncsh.argparsing import parse
from syncsh.errors import UsageError
from syncsh.status import ExitStatus


def parser():
    from syncsh.argparsing import Parser
    from syncsh.options import add_client_options
    p = Parser(prog="syncsh record", description="Open the REPL on TARGET, recording to FILE.")
    p.add_argument("file", metavar="FILE", help="the transcript to write (created 0600)")
    p.add_argument("target", metavar="TARGET", help="where to connect (syncsh --help lists "
                                                    "the forms)")
    add_client_options(p)
    return p


def run(argv: list[str], env) -> ExitStatus:
    args = parse(parser(), argv, env)
    if env.stdin is None or not env.stdin_isatty:
        raise UsageError("record runs the console: standard input is not a terminal "
                         "(a script's session: syncsh TARGET -f FILE)")
    import os
    folder = os.path.dirname(os.path.abspath(args.file))
    if not os.path.isdir(folder):          # said before connecting, not after
        raise UsageError(f"cannot record to {args.file}: no directory {folder}")
    from syncsh.options import target_options
    from syncsh.repl.loop import run_repl
    from syncsh.targets import parse_target
    if args.no_color:
        env.color = False
    # the target as the console would read it: --config's names, --ssh-config, a password
    # file, the prompts for a host key or a password
    target = parse_target(args.target, options=target_options(args, env, interactive=True))
    return ExitStatus(run_repl(target, args, record=args.file, env=env))
