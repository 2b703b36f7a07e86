"""``syncsh diff … --all-users``: every user of a master, several at a time, with progress
on a terminal, a line per divergent user as it is found, and a summary."""

from __future__ import annotations

import json
import sys
import time
from types import SimpleNamespace

from syncsh.diff import sweep, users as sources
from syncsh.errors import UsageError


def user_list(args, master, pair=None):
    """The users to compare: those named, else every user of the master (--all-users)."""
    if not args.all_users:
        return None
    imap = args.imap or (pair.imap if pair is not None else None)
    if master.scheme == "cyrus":
        names = sources.from_cyrus_conf(master.host)
    elif imap:
        login = SimpleNamespace(options=master.options, user=imap.split("//", 1)[-1]
                                .split("@", 1)[0], host=imap.rsplit("@", 1)[-1])
        from syncsh.connect import password_for
        names = sources.from_imap(imap, password=password_for(login), timeout=args.timeout,
                                  insecure=master.options.insecure)
    elif args.master_store or master.store:
        names = sources.from_store(args.master_store or master.store)
    else:
        raise UsageError("--all-users needs the master's users from somewhere: a cyrus:CONF "
                         "master, --imap imap://ADMIN@HOST (or imap = in the pair), or "
                         "--master-store DIR")
    return sources.excluding(names, args.exclude)


def run_sweep(args, master, replica, users) -> int:
    from syncsh.connect import open_session
    from syncsh.diff.collect import Differ, SieveMailboxDiffers
    state = sweep.StateFile(args.state)

    def open_one(target):
        from syncsh import guard
        # an audit reads only: its gate refuses any write, whatever the options say
        gate = guard.Gate(target, door=guard.DIFF, read_only=True)
        return open_session(target, timeout=args.timeout, gate=gate, dialect=args.dialect,
                            learn=False)

    def open_ends(sieve_mailbox: bool = True) -> Ends:
        ends = Ends()
        try:
            ends.master = open_one(master)
            ends.replica = open_one(replica)
            if sieve_mailbox and sieve_mailbox_enabled(ends.master):
                if sieve_mailbox_enabled(ends.replica):
                    ends.sieve_mailbox = True
                else:       # one end would list a #sieve mailbox, the other scripts
                    ends.master.close()
                    ends.master = open_one(master)
        except BaseException:
            ends.close()
            raise
        return ends

    def differ(ends: Ends) -> Differ:
        return Differ(ends.master, ends.replica, expunged=args.expunged, full=args.full,
                      master_store=args.master_store or master.store,
                      master_name=master.text, replica_name=replica.text,
                      sieve_mailbox=ends.sieve_mailbox)

    def compare(ends: Ends, user, asked=None):
        """``asked``: both ends' GET USER replies, read already."""
        comparing = differ(ends)
        if asked is not None:
            comparing.asked[user] = asked
        try:
            report = comparing.run([user], [])
        except SieveMailboxDiffers:
            if ends.plain is None:
                ends.plain = open_ends(sieve_mailbox=False)
            report = differ(ends.plain).run([user], [])
        return sweep.result_of(user, report)

    def answers(ends: Ends, users: list[str]):
        """The users asked: every reply read first (a divergent user's further commands
        come after them), then each user compared."""
        replies = [[reply(ends.master) for _ in users], [reply(ends.replica) for _ in users]]
        for user, *asked in zip(users, *replies):
            yield compare(ends, user, asked)

    try:
        first = open_ends()         # unreachable ends: said once, not once a user
    except BaseException:
        state.close()
        raise
    pipelined = first.master.dialect == first.replica.dialect == "csync"
    runner = sweep.Sweep(open_ends, compare, jobs=args.jobs, rate=args.rate, first=first,
                         ask=ask if pipelined else None, answers=answers)
    todo = (user for user in users if user not in state.done)
    total = None
    if sys.stderr.isatty():         # a bar needs the total; piped runs stay lazy
        todo = list(todo)
        total = len(todo)
    tally = Tally(args.format == "json")
    for result in state.done.values():
        tally.count(result, shown=False)
    started = time.monotonic()
    interrupted = False
    try:
        with Progress(total) as progress:
            results = runner.run(todo)
            try:
                for result in results:
                    state.record(result)
                    tally.count(result)
                    progress.advance(tally)
            finally:
                results.close()
            if args.recheck and tally.divergent_users:
                time.sleep(args.recheck)
                tally.recheck(runner.run(list(tally.divergent_users)), state)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        state.close()
    tally.summary(time.monotonic() - started, interrupted, master.text, replica.text)
    if interrupted:
        return 130
    return 2 if tally.counts[sweep.ERROR] else 1 if tally.counts[sweep.DIVERGENT] else 0


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


class Tally:
    """What the sweep found: counts, the divergent users (names only), and the streamed
    lines (JSON: one object per user; text: one line per divergent or failed user)."""

    def __init__(self, json_lines: bool) -> None:
        self.json = json_lines
        self.counts = {sweep.IDENTICAL: 0, sweep.DIVERGENT: 0, sweep.ERROR: 0}
        self.divergent_users: set[str] = set()

    def count(self, result, shown: bool = True) -> None:
        self.counts[result.status] += 1
        if result.status == sweep.DIVERGENT:
            self.divergent_users.add(result.user)
        if shown:
            self.show(result)

    def show(self, result) -> None:
        if self.json:
            print(json.dumps({"type": "user", "user": result.user, "status": result.status,
                              "kinds": result.kinds, "error": result.error or None,
                              "findings": list(result.findings)}), flush=True)
        elif result.status != sweep.IDENTICAL:
            from syncsh.printable import printable
            what = result.error if result.status == sweep.ERROR else ", ".join(
                f"{kind} {count}" for kind, count in sorted(result.kinds.items()))
            print(f"{printable(result.user)}\t{result.status}\t{printable(what)}", flush=True)

    def recheck(self, results, state) -> None:
        """A divergent user found identical on a second look was replication catching up."""
        for result in results:
            if result.status != sweep.DIVERGENT:
                self.counts[sweep.DIVERGENT] -= 1
                self.counts[result.status] += 1
                self.divergent_users.discard(result.user)
                state.record(result)
                self.show(result)

    def summary(self, seconds: float, interrupted: bool, master: str, replica: str) -> None:
        total = sum(self.counts.values())
        rate = total / seconds if seconds > 0 else 0.0
        if self.json:
            print(json.dumps({"type": "summary", "master": master, "replica": replica,
                              "users": total, **self.counts, "seconds": round(seconds, 3),
                              "interrupted": interrupted}))
            return
        line = (f"{total} users compared in {seconds:.1f} s ({rate:.0f}/s): "
                f"{self.counts[sweep.IDENTICAL]} identical, "
                f"{self.counts[sweep.DIVERGENT]} divergent, {self.counts[sweep.ERROR]} errors")
        print(line + (" (interrupted: rerun with the same --state to go on)"
                      if interrupted else ""))


class Progress:
    """rich.progress on a terminal (stderr), nothing when stderr is not one."""

    def __init__(self, total: int | None) -> None:
        self.bar = None
        if total is not None:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar,
                                       TextColumn, TimeRemainingColumn)
            self.bar = Bar(TextColumn("diff"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.fields[divergent]} divergent"),
                           TextColumn("{task.fields[rate]:.0f}/s"), TimeRemainingColumn(),
                           console=Console(file=sys.stderr), transient=True,
                           redirect_stdout=sys.stdout.isatty())
            self.task = self.bar.add_task("diff", total=total, divergent=0, rate=0.0)
            self.started = time.monotonic()
            self.done = 0

    def __enter__(self):
        if self.bar is not None:
            self.bar.start()
        return self

    def advance(self, tally: Tally) -> None:
        if self.bar is None:
            return
        self.done += 1
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        self.bar.update(self.task, advance=1, divergent=tally.counts[sweep.DIVERGENT],
                        rate=rate)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
