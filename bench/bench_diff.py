"""Figure 4: diff of two 1M-message mailboxes: at most 2x the time to parse both listings,
and peak memory at most 2x the size of the two listings."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from common import ROOT, Figure, legacy_listing

COUNT = 1_000_000
HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, %(root)r)
from syncsh.connect import open_session
from syncsh.targets import parse_target
mode, a, b = sys.argv[1:4]
def target(path):
    return parse_target("exec:%%s %%s %%s" %% (sys.executable, %(fake)r, path))
start = time.perf_counter()
if mode == "parse":
    for path in (a, b):
        s = open_session(target(path), learn=False)
        for _ in s.execute("USER_ALL big", batches=True):    # as diff reads them
            pass
        s.close()
else:
    from syncsh.diff.collect import Differ
    m, r = open_session(target(a), learn=False), open_session(target(b), learn=False)
    report = Differ(m, r).run(["big"], [])
    m.close(); r.close()
    assert len(report.findings) >= 1, report.findings
elapsed = time.perf_counter() - start
# VmHWM: the peak of this process's own address space (ru_maxrss would carry the forking
# parent's figure across exec)
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"seconds": elapsed, "peak": peak}))
"""


def replica_listing(master: str) -> str:
    """The same listing with a few flags changed and one message gone."""
    path = master.replace(".txt", ".replica.txt")
    if not os.path.exists(path):
        with open(master, "rb") as src, open(path + ".tmp", "wb") as dst:
            for number, line in enumerate(src):
                if number == 5000:
                    continue
                if number % 100000 == 7:
                    line = line.replace(b"()", b"($Changed)")
                dst.write(line)
        os.rename(path + ".tmp", path)
    return path


def run(mode: str, a: str, b: str) -> dict:
    code = CHILD % {"root": ROOT, "fake": os.path.join(HERE, "fake_server.py")}
    proc = subprocess.run([sys.executable, "-c", code, mode, a, b], capture_output=True,
                          text=True, check=True)
    return json.loads(proc.stdout)


def measure() -> list[Figure]:
    master = legacy_listing(COUNT)
    replica = replica_listing(master)
    parse = run("parse", master, replica)
    diff = run("diff", master, replica)
    size = os.path.getsize(master) + os.path.getsize(replica)
    return [
        Figure("diff 2 x 1M messages", diff["seconds"], parse["seconds"], "s",
               "<= 2x parsing both", diff["seconds"] <= 2 * parse["seconds"]),
        Figure("diff peak memory", diff["peak"] / 1e6, size / 1e6, "MB",
               "<= 2x the two listings", diff["peak"] <= 2 * size,
               "baseline: the two listings' size"),
    ]


if __name__ == "__main__":
    for figure in measure():
        print(figure.row())
