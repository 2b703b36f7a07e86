"""Helpers for the benchmarks: every figure is a ratio against a baseline measured in the
same run on the same machine (absolute times are quoted only beside their baseline)."""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
DATA = os.environ.get("SYNCSH_BENCH_DATA", "/tmp/syncsh-bench")
os.makedirs(DATA, exist_ok=True)


@dataclass
class Figure:
    name: str
    value: float
    baseline: float
    unit: str
    target: str
    ok: bool | None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    def row(self) -> str:
        verdict = {True: "met", False: "missed", None: "reported"}[self.ok]
        return (f"| {self.name} | {self.value:.3g} {self.unit} | {self.baseline:.3g} {self.unit} | "
                f"{self.ratio:.2f} | {self.target} | {verdict} | {self.note} |")


def timings(function, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def best_of(function, runs: int = 3) -> float:
    return min(timings(function, runs))


def median_of(function, runs: int = 5) -> float:
    return statistics.median(timings(function, runs))


def legacy_listing(count: int) -> str:
    """A USER_SOME reply of `count` messages, as a file a fake server can cat (~46 bytes a
    message, like the issue's 46 MB for a million)."""
    path = os.path.join(DATA, f"user_some_{count}.txt")
    if not os.path.exists(path):
        with open(path + ".tmp", "wb") as handle:
            handle.write(b"* Sync Server v0.0 [EXPERIMENTAL]\r\n")
            handle.write(b'** 6b98205c796c6c61 user.big "big\tlrswipcda\t" %d 1062945305\r\n'
                         % (count + 10))
            chunk = []
            for uid in range(1, count + 1):
                chunk.append(b"* %d 0101003f4c56b0%010x (%s)\r\n"
                             % (uid, uid, b"\\answered" if uid % 7 == 0 else b""))
                if len(chunk) >= 10000:
                    handle.write(b"".join(chunk))
                    chunk = []
            handle.write(b"".join(chunk) + b"OK User_Some finished\r\n")
        os.rename(path + ".tmp", path)
    return path


def dlist_listing(count: int) -> str:
    path = os.path.join(DATA, f"fullmailbox_{count}.txt")
    if not os.path.exists(path):
        with open(path + ".tmp", "wb") as handle:
            handle.write(b"* OK bench Cyrus sync server 3.6.1-bench\r\n")
            handle.write(b'* MAILBOX %%(UNIQUEID b9rmuem7dvmbfpbp3vshjta6 MBOXNAME user.big '
                         b'SYNC_CRC 0 SYNC_CRC_ANNOT 0 LAST_UID %d HIGHESTMODSEQ %d UIDVALIDITY 1 '
                         b'PARTITION default ACL "big\tlrswipkxtecdan\t" OPTIONS P RECORD ('
                         % (count, count + 1))
            chunk = []
            for uid in range(1, count + 1):
                chunk.append(b"%%(UID %d MODSEQ %d LAST_UPDATED 1795897996 FLAGS (%s) "
                             b"INTERNALDATE 1700003600 SIZE 283 GUID %040x ANNOTATIONS "
                             b'(%%(ENTRY /vendor/cmu/cyrus-imapd/savedate USERID "" MODSEQ 0 '
                             b"VALUE 1795897996)))"
                             % (uid, uid + 1, b"\\Seen" if uid % 3 else b"", uid))
                if len(chunk) >= 10000:
                    handle.write(b" ".join(chunk) + b" ")
                    chunk = []
            handle.write(b" ".join(chunk) + b"))\r\nOK success\r\n")
        os.rename(path + ".tmp", path)
    return path


def cat_target(path: str) -> str:
    """exec: a fake server that sends the file and ignores what it is told."""
    return f"exec:sh -c 'cat {path}; sleep 600'"


class Counting:
    """A transport wrapper that counts the bytes read."""

    def __init__(self, inner):
        self.inner = inner
        self.read = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def recv(self, timeout):
        data = self.inner.recv(timeout)
        self.read += len(data)
        return data
