"""Figure 9: `syncsh tap` in the way of a real sync.  Cyrus' own `sync_client -u` of a new
user with 10k messages, through the tap (its live view decoded to a file) against the same
sync straight to the replica, measured alternately in the same run: at most 1.3x."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from common import ROOT, Figure

sys.path.insert(0, os.path.join(ROOT, "tests"))
DIR, USER, COUNT, RUNS = "/tmp/syncsh-bench-tap", "benchtap", 10_000, 2


def syncsh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "syncsh", *args], capture_output=True,
                          text=True, timeout=900)


def empty_replica(pair) -> None:
    """The user gone from the replica (delete_mode immediate: nothing to restore from)."""
    proc = syncsh(f"unix:{pair.replica_socket}", "--allow-writes", "--timeout", "600",
                  "-c", f"APPLY UNUSER {USER}")
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"APPLY UNUSER failed: {proc.stderr.strip()}")


def timed_sync(pair, conf: str) -> float:
    from servers.cyrus import CYRUS_BIN
    empty_replica(pair)
    start = time.perf_counter()
    done = subprocess.run(["timeout", "-k", "5", "600", f"{CYRUS_BIN}/sync_client", "-C", conf,
                           "-u", USER], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"sync_client exited {done.returncode}: {done.stderr[-300:]}")
    return seconds


def start_tap(pair, log: str):
    tap = subprocess.Popen([sys.executable, "-m", "syncsh", "tap", "--listen", "127.0.0.1:0",
                            "--to", f"csync://127.0.0.1:{pair.replica_port}", "--log", log,
                            "--no-color"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
    port = int(re.search(r":(\d+),", tap.stderr.readline()).group(1))
    conf = os.path.join(DIR, "master-via-tap.conf")
    with open(pair.master_conf) as source, open(conf, "w") as target:
        target.write(re.sub(r"(?m)^sync_port: \d+$", f"sync_port: {port}", source.read()))
    return tap, conf


def measure() -> list[Figure]:
    name, target = "sync_client -u of 10k messages through the tap", "<= 1.3x direct"
    if os.geteuid() != 0:
        return [Figure(name, float("nan"), float("nan"), "s", target, None,
                       "not measured: needs root (real Cyrus)")]
    from servers.cyrus import CyrusPair
    pair = CyrusPair(DIR, extra_conf="delete_mode: immediate")   # kept: seeding takes a while
    marker = os.path.join(DIR, "seeded")
    if not os.path.exists(marker):
        pair.seed(USER, COUNT)
        open(marker, "w").close()
    log = os.path.join(DIR, "tap-live.txt")
    if os.path.exists(log):
        os.unlink(log)                        # this run's live view only
    tap, via_tap = start_tap(pair, log)
    direct, tapped = [], []
    try:
        for run in range(RUNS):               # alternately: the machine's noise falls on both
            order = [(direct, pair.master_conf), (tapped, via_tap)]
            for times, conf in order if run % 2 == 0 else reversed(order):
                times.append(timed_sync(pair, conf))
    finally:
        tap.terminate()
        tap.wait(10)
        pair.stop()                           # its data kept for the next run
    with open(log, encoding="utf-8", errors="replace") as handle:
        shown = handle.read()
    messages = sum(int(n) for n in re.findall(r"C: APPLY MESSAGE \((\d+) messages", shown))
    best_direct, best_tapped = min(direct), min(tapped)
    return [Figure(name, best_tapped, best_direct, "s", target,
                   best_tapped <= 1.3 * best_direct,
                   f"best of {RUNS} each; the tap decoded {messages // RUNS} messages a run")]


if __name__ == "__main__":
    for figure in measure():
        print(figure.row())
