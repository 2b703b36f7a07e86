"""``syncsh replicate``: the documented dialect's sync_client, as Cambridge's replicate ran it."""

from __future__ import annotations

import sys

from syncsh.errors import UsageError
from syncsh.replica.request import parser


def _line(stream):
    """Lines that may quote the server: escaped on a terminal (and always on stderr)."""
    from syncsh.printable import printable
    escape = stream is sys.stderr or stream.isatty()

    def write(text: str) -> None:
        stream.write((printable(text) if escape else text) + "\n")
        stream.flush()
    return write


def run(argv: list[str]) -> int:
    import os
    args = parser().parse_args(argv)
    if not os.path.exists(os.path.join(args.master, "store.sqlite3")):
        raise UsageError(f"no master store at {args.master}")
    from syncsh.replica.engine import ReplicationFailed, Replicator
    from syncsh.replica.master import MasterStore
    from syncsh.targets import parse_target

    from syncsh.frontend.options import target_options
    target = parse_target(args.target, options=target_options(args, interactive=False))
    if target.store and os.path.samefile(target.store, args.master):
        raise UsageError(f"{target.text} is the master store itself: replicate copies a master "
                         "to another store")
    from syncsh import guard
    # replicate is asked for by name: its writes need no --allow-writes, but --read-only
    # and a read_only target refuse them all, before anything is sent (a dry run sends
    # reads only, and the session's gate holds it to that)
    if not args.dry_run and guard.decide(True, target, read_only=args.read_only,
                                         allow_writes=True) == guard.REFUSE:
        raise UsageError(guard.refusal(guard.REFUSE, "replicate", target, args.read_only)
                         + " (--dry-run shows what it would send)")
    gate = guard.Gate(target, door=guard.REPLICATE, read_only=args.read_only,
                      allow_writes=not args.dry_run)
    say = _line(sys.stdout)
    from syncsh.connect import open_session
    session = open_session(target, timeout=args.timeout, on_stderr=_line(sys.stderr),
                           server_verbosity=2 if args.verbosity >= 2 else 0, learn=False,
                           gate=gate)
    if session.dialect not in ("seed", "2005"):
        session.close()
        raise UsageError(f"{target.text} speaks the {session.dialect} dialect; replicate speaks "
                         "the documented one (use Cyrus' own sync_client for a modern replica)")
    master = MasterStore(args.master)
    status = 0
    try:
        engine = Replicator(master, session, verbosity=args.verbosity, dry_run=args.dry_run,
                            say=say, sent=say)
        try:
            if args.mailboxes:
                engine.replicate_mailboxes(args.mailboxes)
            else:
                for user in args.users:
                    try:
                        engine.user_mode_user(user)
                    except ReplicationFailed as exc:
                        _line(sys.stderr)(f"syncsh replicate: {user}: {exc}")
                        status = 1
        except ReplicationFailed as exc:
            _line(sys.stderr)(f"syncsh replicate: {exc}")
            status = 1
        if args.dry_run:
            print(f"(dry run: {engine.listed} command(s) listed: {engine.listed - engine.unsent}"
                  f" sent (reads), {engine.unsent} not sent)", file=sys.stderr)
    finally:
        master.close()
        session.close()
    return status
