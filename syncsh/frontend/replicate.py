"""``syncsh replicate``: the documented dialect's sync_client, as Cambridge's replicate ran it."""

from __future__ import annotations

from syncsh.argparsing import parse
import os

from syncsh.errors import UsageError
from syncsh.replica.request import parser
from syncsh.status import ExitStatus


def _said(env):
    """replicate's own lines on stdout, which may quote the server: escaped on a
    terminal, the very text to a pipe (what goes to stderr is always escaped: env.warn)."""
    from syncsh.printable import printable

    def write(text: str) -> None:
        env.stdout.write((printable(text) if env.stdout_isatty else text) + "\n")
        env.stdout.flush()
    return write


def run(argv: list[str], env) -> ExitStatus:
    args = parse(parser(), argv, env)
    if not os.path.exists(os.path.join(args.master, "store.sqlite3")):
        raise UsageError(f"no master store at {args.master}")
    target = _replica(args, env)
    session = _open(target, args, env)
    from syncsh.replica.engine import Replicator
    from syncsh.replica.master import MasterStore
    from syncsh.replica.runner import replicate
    master = MasterStore(args.master)
    try:
        say = _said(env)
        engine = Replicator(master, session, verbosity=args.verbosity, dry_run=args.dry_run,
                            say=say, sent=say)
        ok = replicate(engine, users=args.users, mailboxes=args.mailboxes,
                       report=env.warn)
        if args.dry_run:
            env.warn(f"(dry run: {engine.listed} command(s) listed: "
                     f"{engine.listed - engine.unsent} sent (reads), {engine.unsent} not sent)")
    finally:
        master.close()
        session.close()
    return ExitStatus.OK if ok else ExitStatus.FAILED


def _replica(args, env):
    """The replica asked for, refused before anything is sent when the guard rail says so."""
    from syncsh import guard
    from syncsh.options import target_options
    from syncsh.targets import parse_target
    target = parse_target(args.target, options=target_options(args, env, interactive=False))
    if target.store and os.path.samefile(target.store, args.master):
        raise UsageError(f"{target.text} is the master store itself: replicate copies a master "
                         "to another store")
    # replicate is asked for by name: its writes need no --allow-writes, but --read-only
    # and a read_only target refuse them all, before anything is sent (a dry run sends
    # reads only, and the session's gate holds it to that)
    if not args.dry_run and guard.decide(True, target, read_only=args.read_only,
                                         allow_writes=True) == guard.REFUSE:
        raise UsageError(guard.refusal(guard.REFUSE, "replicate", target, args.read_only)
                         + "; --dry-run shows what it would send")
    return target


def _open(target, args, env):
    from syncsh import guard
    from syncsh.connect import open_session
    gate = guard.Gate(target, door=guard.REPLICATE, read_only=args.read_only,
                      allow_writes=not args.dry_run)
    session = open_session(target, timeout=args.timeout, on_stderr=env.warn,
                           server_verbosity=2 if args.verbosity >= 2 else 0, learn=False,
                           gate=gate)
    if session.dialect not in ("seed", "2005"):
        session.close()
        raise UsageError(f"{target.text} speaks the {session.dialect} dialect; replicate speaks "
                         "the documented one (use Cyrus' own sync_client for a modern replica)")
    return session
