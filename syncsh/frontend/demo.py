"""``syncsh demo init DIR | reset | path``: the demo pair of the Replication Examples."""

from __future__ import annotations

from syncsh.argparsing import parse
import os

from syncsh.errors import UsageError
from syncsh.status import ExitStatus


def parser():
    from syncsh.argparsing import Parser
    p = Parser(prog="syncsh demo", description="The demo pair of the Replication Examples.")
    sub = p.add_subparsers(dest="action", required=True)
    init = sub.add_parser("init", help="create DIR/cyrus-1 (master) and DIR/cyrus-2 (replica)")
    init.add_argument("directory", help="where to create the pair")
    init.add_argument("--force", action="store_true",
                      help="re-create stores that are there already (what they hold is lost)")
    sub.add_parser("reset", help="restore the pair that demo: targets open")
    sub.add_parser("path", help="where the demo: pair lives")
    return p


def run(argv: list[str], env) -> ExitStatus:
    args = parse(parser(), argv, env)
    from syncsh import demo
    if args.action == "init":
        there = [name for name in demo.NAMES
                 if os.path.exists(os.path.join(args.directory, name))]
        if there and not args.force:
            raise UsageError(f"{args.directory} holds {' and '.join(there)} already: "
                             "demo init --force re-creates them (what they hold is lost)")
        for path in demo.init(args.directory):
            env.say(path)
    elif args.action == "reset":
        env.say(os.path.dirname(demo.init(demo.pair_dir(env.environ))[0]))
    else:
        env.say(demo.pair_dir(env.environ))
    return ExitStatus.OK
