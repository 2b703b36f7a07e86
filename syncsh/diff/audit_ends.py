"""The sessions a whole-server audit compares users through: a pair of ends a worker
holds (the master's and the replica's), how they are opened (read-only, and listing sieve
scripts as the #sieve mailbox where both ends can, as Cyrus' own sync_client asks), and
how one user is compared over them, GET USER replies read ahead or not."""

from __future__ import annotations

from syncsh.diff import sweep


class Ends:
    """One worker's sessions to the master and the replica. ``sieve_mailbox``: both list a
    user's sieve scripts as the #sieve mailbox; ``plain``: sessions that list the scripts
    themselves, opened for the first user whose #sieve mailboxes differ."""

    def __init__(self) -> None:
        self.master = self.replica = self.plain = None
        self.sieve_mailbox = False

    def close(self) -> None:
        for held in (self.master, self.replica, self.plain):
            if held is not None:
                try:
                    held.close()
                except Exception:                  # closing a dead session: nothing to do
                    pass


class AuditEnds:
    """How an audit of ``master`` and ``replica`` (targets) opens its pairs of sessions
    and compares a user over one, with the diff options in ``args``."""

    def __init__(self, args, master, replica) -> None:
        self.args, self.master, self.replica = args, master, replica

    def open_one(self, target):
        from syncsh import guard
        from syncsh.connect import open_session
        from syncsh.errors import SyncshError
        # an audit reads only: its gate refuses any write, whatever the options say
        gate = guard.Gate(target, door=guard.DIFF, read_only=True)
        try:
            return open_session(target, timeout=self.args.timeout, gate=gate,
                                dialect=self.args.dialect, learn=False)
        except SyncshError as exc:          # which end: the same words come from either
            role = "master" if target is self.master else "replica"
            raise SyncshError(f"the {role} {target.text}: {exc}") from exc

    def open_ends(self, sieve_mailbox: bool = True) -> Ends:
        ends = Ends()
        try:
            ends.master = self.open_one(self.master)
            ends.replica = self.open_one(self.replica)
            if sieve_mailbox and sieve_mailbox_enabled(ends.master):
                if sieve_mailbox_enabled(ends.replica):
                    ends.sieve_mailbox = True
                else:       # one end would list a #sieve mailbox, the other scripts
                    ends.master.close()
                    ends.master = self.open_one(self.master)
        except BaseException:
            ends.close()
            raise
        return ends

    def differ(self, ends: Ends):
        from syncsh.diff.collect import Differ
        args = self.args
        return Differ(ends.master, ends.replica, expunged=args.expunged, full=args.full,
                      master_store=args.master_store or self.master.store,
                      master_name=self.master.text, replica_name=self.replica.text,
                      sieve_mailbox=ends.sieve_mailbox)

    def compare(self, ends: Ends, user, asked=None):
        """``asked``: both ends' GET USER replies, read already."""
        from syncsh.diff.collect import SieveMailboxDiffers
        comparing = self.differ(ends)
        if asked is not None:
            comparing.asked[user] = asked
        try:
            report = comparing.run([user], [])
        except SieveMailboxDiffers:
            if ends.plain is None:
                ends.plain = self.open_ends(sieve_mailbox=False)
            report = self.differ(ends.plain).run([user], [])
        return sweep.result_of(user, report)

    def answers(self, ends: Ends, users: list[str]):
        """The users asked: every reply read first (a divergent user's further commands
        come after them), then each user compared."""
        replies = [[reply(ends.master) for _ in users], [reply(ends.replica) for _ in users]]
        for user, *asked in zip(users, *replies):
            yield self.compare(ends, user, asked)

    def sweep(self, jobs: int, rate) -> sweep.Sweep:
        """The runner, its first pair opened now: unreachable ends are said once, not once
        a user.  Both ends of the modern dialect take their GET USERs sent ahead."""
        first = self.open_ends()
        pipelined = first.master.dialect == first.replica.dialect == "csync"
        return sweep.Sweep(self.open_ends, self.compare, jobs=jobs, rate=rate, first=first,
                           ask=ask if pipelined else None, answers=self.answers)


def ask(ends: Ends, users: list[str]) -> None:
    """GET USER of several users sent ahead to both ends."""
    lines = [f"GET USER {user}".encode() for user in users]
    ends.master.send_ahead(lines)
    ends.replica.send_ahead(lines)


def reply(session) -> tuple[list, object]:
    events = list(session.replies())
    return events[:-1], events[-1]


def sieve_mailbox_enabled(session) -> bool:
    """Ask a modern end to list sieve scripts as the user's #sieve mailbox, as Cyrus' own
    sync_client does. Otherwise a 3.6 server reads the scripts' index (the user's dav.db,
    an SQLite file) for every GET USER: a fifth of what GET USER of an in-sync user costs
    it. Only what this session is shown changes; nothing is written."""
    if session.dialect != "csync":
        return False
    from syncsh.protocol.csync import DlistLine
    events, done = session.run("APPLY CAPABILITIES (SIEVE-MAILBOX)")
    return done.ok and any(isinstance(e, DlistLine) and e.name == "ENABLED"
                           and "SIEVE-MAILBOX" in (e.value or ()) for e in events)
