"""``syncsh diff … --all-users``: every user of a master, several at a time, with progress
on a terminal, a line per divergent user as it is found, and a summary."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

from syncsh.diff import sweep, users as sources
from syncsh.errors import UsageError
from syncsh.status import ExitStatus


def user_list(args, master, pair=None):
    """The users to compare: those named, else every user of the master (--all-users)."""
    if not args.all_users:
        return None
    imap = args.imap or (pair.imap if pair is not None else None)
    if master.scheme == "cyrus":
        names = sources.from_cyrus_conf(master.host)
    elif imap:
        login = SimpleNamespace(options=master.options, text=imap,
                                user=imap.split("//", 1)[-1].split("@", 1)[0],
                                host=imap.rsplit("@", 1)[-1])
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


def run_sweep(args, master, replica, users, env) -> ExitStatus:
    """Compare ``users`` (an iterable; a lazy one stays lazy when piped) and report to
    ``env``'s streams: 0 all identical, 1 any divergent, 2 errors, 130 interrupted."""
    from syncsh.diff.audit_ends import AuditEnds
    state = sweep.StateFile(args.state)
    try:
        runner = AuditEnds(args, master, replica).sweep(args.jobs, args.rate)
    except BaseException:
        state.close()
        raise
    todo = (user for user in users if user not in state.done)
    total = None
    if env.stderr_isatty:           # a bar needs the total; piped runs stay lazy
        try:
            todo = list(todo)
        except BaseException:       # the listing failed: the pair opened first goes too
            runner.release_first()
            state.close()
            raise
        total = len(todo)
    progress = Progress(total, env)
    tally = Tally(args.format == "json", progress.above(env.stdout, env.stderr),
                  resumable=bool(args.state))
    for result in state.done.values():
        tally.count(result, shown=False)
    started = time.monotonic()
    interrupted = False
    try:
        with progress:
            _tally_each(runner.run(todo), state, tally, progress)
            if args.recheck and tally.divergent_users:
                time.sleep(args.recheck)
                tally.recheck(runner.run(list(tally.divergent_users)), state)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        state.close()
    tally.summary(time.monotonic() - started, interrupted, master.text, replica.text)
    if interrupted:
        return ExitStatus.INTERRUPTED
    if tally.counts[sweep.ERROR]:
        return ExitStatus.ERROR
    return ExitStatus.FAILED if tally.counts[sweep.DIVERGENT] else ExitStatus.OK


def _tally_each(results, state, tally: "Tally", progress: "Progress") -> None:
    """Each result recorded (a rerun with the state file resumes after it), counted and
    shown as it comes; the runner stopped however this ends."""
    try:
        for result in results:
            state.record(result)
            tally.count(result)
            progress.advance(tally)
    finally:
        results.close()


class Tally:
    """What the sweep found: counts, the divergent users (names only), and the streamed
    lines (JSON: one object per user; text: one line per divergent or failed user)."""

    def __init__(self, json_lines: bool, out, resumable: bool = False) -> None:
        self.json = json_lines
        self.out = out
        self.resumable = resumable          # a --state file: a rerun goes on
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
            self._line(json.dumps({"type": "user", "user": result.user,
                                   "status": result.status, "kinds": result.kinds,
                                   "error": result.error or None,
                                   "findings": list(result.findings)}))
        elif result.status != sweep.IDENTICAL:
            from syncsh.printable import printable
            what = result.error if result.status == sweep.ERROR else ", ".join(
                f"{kind} {count}" for kind, count in sorted(result.kinds.items()))
            self._line(f"{printable(result.user)}\t{result.status}\t{printable(what)}")

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()        # streamed: each user's line as it finishes

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
            self._line(json.dumps({"type": "summary", "master": master, "replica": replica,
                                   "users": total, **self.counts,
                                   "seconds": round(seconds, 3), "interrupted": interrupted}))
            return
        line = (f"{total} users compared in {seconds:.1f} s ({rate:.0f}/s): "
                f"{self.counts[sweep.IDENTICAL]} identical, "
                f"{self.counts[sweep.DIVERGENT]} divergent, {self.counts[sweep.ERROR]} errors")
        if interrupted:
            line += (" (interrupted: rerun with the same --state to go on)" if self.resumable
                     else " (interrupted: --state FILE keeps each user as it finishes)")
        self._line(line)


class Progress:
    """rich.progress on a terminal (stderr), nothing when stderr is not one."""

    def __init__(self, total: int | None, env) -> None:
        self.bar = None
        self.on_terminal = env.stdout_isatty
        if total is not None:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar,
                                       TextColumn, TimeRemainingColumn)
            self.bar = Bar(TextColumn("diff"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.fields[divergent]} divergent"),
                           TextColumn("{task.fields[rate]:.0f}/s"), TimeRemainingColumn(),
                           console=Console(file=env.stderr), transient=True,
                           redirect_stdout=False, redirect_stderr=False)
            self.task = self.bar.add_task("diff", total=total, divergent=0, rate=0.0)
            self.started = time.monotonic()
            self.done = 0

    def above(self, out, err):
        """Where report lines go: on the terminal that shows the bar too, printed above it
        (the bar drawn again below); anywhere else ``out`` itself."""
        if self.bar is None or not self.on_terminal or not _same_file(out, err):
            return out
        from rich.file_proxy import FileProxy
        return FileProxy(self.bar.console, out)

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


def _same_file(one, other) -> bool:
    """Whether two streams write to the same file (a terminal both stdout and stderr)."""
    import os
    try:
        return os.path.samestat(os.fstat(one.fileno()), os.fstat(other.fileno()))
    except (OSError, ValueError, AttributeError):
        return False
