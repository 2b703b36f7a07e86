"""``syncsh server``: the reference sync_server of the documented dialect, on stdin/stdout."""

from __future__ import annotations

from syncsh.argparsing import parse
from syncsh.errors import UsageError
from syncsh.status import ExitStatus


def parser():
    from syncsh.argparsing import Parser, positive_seconds, seconds
    p = Parser(prog="syncsh server",
               description="The reference sync_server of the documented dialect, on stdin/stdout.")
    p.add_argument("--store", required=True, metavar="DIR", help="the mailstore (created if absent)")
    p.add_argument("-v", dest="verbosity", action="count", default=0,
                   help="-v -v: trace each command on stderr")
    p.add_argument("--dialect", choices=("seed", "2005"), default="seed",
                   help="the greeting and replies of this dialect (default seed)")
    p.add_argument("--lock-timeout", type=seconds, default=10.0, metavar="SECONDS",
                   help="how long a session waits for a user lock before NO (default 10)")
    p.add_argument("--idle-timeout", type=positive_seconds, default=1800.0, metavar="SECONDS",
                   help="close a connection idle this long (default 1800)")
    return p


def run(argv: list[str], env) -> ExitStatus:
    args = parse(parser(), argv, env)
    if env.stdin is None or not hasattr(env.stdout, "fileno"):
        raise UsageError("the server speaks on standard input and output: one is closed")
    from syncsh.server.main import serve
    try:
        return ExitStatus(serve(args.store, verbosity=args.verbosity, dialect=args.dialect,
                                idle_timeout=args.idle_timeout, lock_timeout=args.lock_timeout,
                                in_fd=env.stdin.fileno(), out_fd=env.stdout.fileno(),
                                err=env.stderr))
    except OSError as exc:
        raise UsageError(f"cannot open store {args.store}: {exc.strerror or exc}") from None
