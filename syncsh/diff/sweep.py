"""A whole-server audit: diff every user, several at a time, resumable.

Each of ``jobs`` workers holds its own session to each end and compares one user at a time
the way ``diff --user`` does (GET USER first, FULLMAILBOX only where CRCs or counters
differ; on the documented dialect each lock released at once). Users are handed out
lazily and results handed back as they finish, so memory does not grow with the number of
users; ``--state FILE`` gets a line per finished user, and a rerun with the same file skips
those users and counts their results."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from syncsh.errors import SyncshError, UsageError

IDENTICAL, DIVERGENT, ERROR = "identical", "divergent", "error"
MAX_JOBS = 16          # a production replica is not to be swamped by an audit


@dataclass(frozen=True)
class UserResult:
    user: str
    status: str                                        # identical | divergent | error
    kinds: dict[str, int] = field(default_factory=dict)   # divergent: finding kind -> count
    error: str = ""
    findings: tuple = ()                               # JSON-ready, this run's only

    def state_line(self) -> str:
        return json.dumps({"user": self.user, "status": self.status, "kinds": self.kinds,
                           "error": self.error}, sort_keys=True)


def result_of(user: str, report) -> UserResult:
    """One user's diff report, summed up."""
    if report.errors:
        return UserResult(user, ERROR, error="; ".join(report.errors))
    if user in report.absent_users:
        return UserResult(user, ERROR, error="no mailbox on either end")
    found = [f for f in report.findings if not f.consequence]
    if not found:
        return UserResult(user, IDENTICAL)
    from syncsh.diff.report import finding_json
    return UserResult(user, DIVERGENT, dict(Counter(f.kind for f in found)),
                      findings=tuple(finding_json(f) for f in report.findings))


class StateFile:
    """Finished users, one JSON line each, appended as they finish (a crash loses none)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.done: dict[str, UserResult] = {}
        if path is None:
            self.handle = None
            return
        try:
            with open(path, encoding="utf-8") as handle:
                for number, line in enumerate(handle, 1):
                    if line.strip():
                        self._load(path, number, line)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
        try:
            import os
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self.handle = os.fdopen(fd, "a", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror}") from None

    def _load(self, path: str, number: int, line: str) -> None:
        try:
            row = json.loads(line)
            result = UserResult(row["user"], row["status"], dict(row.get("kinds") or {}),
                                row.get("error", ""))
        except (ValueError, KeyError, TypeError):
            if line.endswith("\n"):
                raise UsageError(f"{path}:{number}: not a state line of syncsh diff") from None
            return                  # the last line, cut short by a crash: that user again
        if result.status != ERROR:  # a user that could not be compared is tried again
            self.done[result.user] = result

    def record(self, result: UserResult) -> None:
        if self.handle is not None:
            self.handle.write(result.state_line() + "\n")
            self.handle.flush()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


class RateLimit:
    """At most `rate` users a second, across all workers."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self, stop: threading.Event) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next)
            self.next = start + self.interval
        stop.wait(max(0.0, start - now))


AHEAD = 8      # users asked of a session pair at once, when its ends take reads ahead


class Sweep:
    """Runs the comparisons. ``open_pair()`` gives its own sessions to both ends (anything
    with a ``close()``); ``compare(pair, user)`` gives that user's UserResult. ``first``: a
    pair opened already, used first.

    With ``ask(pair, users)`` and ``answers(pair, users)`` (the pair's ends take reads sent
    ahead: the modern dialect), one thread drives the ``jobs`` pairs in turn, each asked
    for AHEAD users at once and answering while the others' servers work: measured on a
    real Cyrus pair, a fifth of the client's CPU of a thread a pair (no lock handed over
    a user, no wake-up a reply) and a sixth less of the servers' (a batch read in one go).
    Otherwise a thread a pair, one user at a time."""

    def __init__(self, open_pair: Callable, compare: Callable, *, jobs: int = 4,
                 rate: float | None = None, ask: Callable | None = None,
                 answers: Callable | None = None, first=None) -> None:
        if not 1 <= jobs <= MAX_JOBS:
            raise UsageError(f"--jobs takes 1 to {MAX_JOBS} (a replica in production "
                             "is not to be overloaded)")
        if rate is not None and not rate > 0:
            raise UsageError("--rate takes a number of users a second above 0")
        self.open_pair, self.compare, self.jobs = open_pair, compare, jobs
        self.ask, self.answers, self.first = ask, answers, first
        self.limit = RateLimit(rate)
        self.stop = threading.Event()

    def release_first(self) -> None:
        """The pair opened before the run, closed when no run is to take it."""
        first, self.first = self.first, None
        if first is not None:
            first.close()

    def run(self, users: Iterable[str]):
        """Yield each user's result as it finishes. Closing the generator early (Ctrl-C)
        stops the workers after the users they are on."""
        self.stop = threading.Event()             # a runner may run again (--recheck)
        todo: queue.Queue = queue.Queue(maxsize=self.jobs * 2)   # lazy: memory stays flat
        # in turn, users go by the batch (a thread's wake-up a batch, not a user)
        chunk = 1 if self.ask is None else AHEAD
        feeder = threading.Thread(target=self._feed, args=(users, todo, chunk), daemon=True)
        feeder.start()
        first, self.first = self.first, None
        try:
            if self.ask is None:
                yield from self._threads(todo, first)
            else:
                yield from self._in_turn(todo, first)
        finally:
            self.stop.set()

    # ---------------------------------------------------------------- reads sent ahead
    def _in_turn(self, todo: queue.Queue, first):
        slots = [_Slot(first if n == 0 else None) for n in range(self.jobs)]
        ended = []

        def take() -> list[str]:
            batch = None if ended else todo.get()
            if batch is None:
                ended.append(True)
                return []
            if isinstance(batch, BaseException):
                raise batch                       # the user list failed half-way
            for _ in batch:
                self.limit.wait(self.stop)
            return batch

        try:
            for slot in slots[1:]:      # while the users are listed
                try:
                    slot.pair = self.open_pair()
                except SyncshError:     # said with the users of its first batch
                    pass
            for slot in slots:
                self._ask(slot, take())
            while any(slot.batch for slot in slots) and not self.stop.is_set():
                for slot in slots:
                    if slot.batch:
                        yield from self._answered(slot)
                        self._ask(slot, take())
        finally:
            for slot in slots:
                _closed(slot.pair)

    def _ask(self, slot, batch: list[str]) -> None:
        slot.batch, slot.error = batch, None
        if not batch:
            return
        try:
            if slot.pair is None:
                slot.pair = self.open_pair()
            self.ask(slot.pair, batch)
        except SyncshError as exc:
            slot.error, slot.pair = exc, _closed(slot.pair)

    def _answered(self, slot):
        batch, slot.batch = slot.batch, []
        if slot.error is None:
            told = 0
            try:
                for result in self.answers(slot.pair, batch):
                    told += 1
                    yield result
                return
            except SyncshError as exc:            # a broken session: a new one next time
                slot.error, slot.pair = exc, _closed(slot.pair)
                batch = batch[told:]
        for user in batch:
            yield UserResult(user, ERROR, error=str(slot.error))

    # ---------------------------------------------------------------- a thread a pair
    def _threads(self, todo: queue.Queue, first):
        done: queue.Queue = queue.Queue()
        workers = [threading.Thread(target=self._work, args=(todo, done, first if n == 0
                                                                else None),
                                    daemon=True, name=f"diff-worker-{n}")
                   for n in range(self.jobs)]
        for worker in workers:
            worker.start()
        running = len(workers)
        try:
            while running:
                item = done.get()
                if item is None:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            self.stop.set()
            for worker in workers:
                worker.join(timeout=60)

    def _feed(self, users: Iterable[str], todo: queue.Queue, chunk: int) -> None:
        """The users into ``todo``: one at a time, or in lists of ``chunk``."""
        try:
            batch = []
            for user in users:
                batch.append(user)
                if len(batch) < chunk:
                    continue
                self._put(todo, batch if chunk > 1 else user)
                batch = []
                if self.stop.is_set():
                    return
            if batch:
                self._put(todo, batch)
        except SyncshError as exc:                 # the user list failed half-way
            todo.put(exc)
        finally:
            for _ in range(self.jobs):
                todo.put(None)

    def _put(self, todo: queue.Queue, item) -> None:
        while not self.stop.is_set():
            try:
                todo.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _work(self, todo: queue.Queue, done: queue.Queue, pair=None) -> None:
        try:
            while not self.stop.is_set():
                user = todo.get()
                if user is None:
                    break
                if isinstance(user, BaseException):
                    done.put(user)
                    break
                self.limit.wait(self.stop)
                if self.stop.is_set():
                    break
                try:
                    if pair is None:
                        pair = self.open_pair()
                    done.put(self.compare(pair, user))
                except SyncshError as exc:
                    done.put(UserResult(user, ERROR, error=str(exc)))
                    pair = _closed(pair)          # a broken session: a new one next time
        except BaseException as exc:              # a bug of ours: the main thread says it
            done.put(exc)
        finally:
            _closed(pair)
            done.put(None)


class _Slot:
    """One pair of sessions driven in turn: the users asked of it, or why it failed."""

    def __init__(self, pair) -> None:
        self.pair = pair
        self.batch: list[str] = []
        self.error: SyncshError | None = None


def _closed(pair):
    if pair is not None:
        try:
            pair.close()
        except Exception:                          # closing a dead session: nothing to do
            pass
    return None
