"""Figure 8: replay of all of transcripts/ in 2 s or less; baseline: starting the Python
interpreter once per connection the transcripts open."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import time

from common import ROOT, Figure, median_of


def replay() -> None:
    files = sorted(glob.glob(os.path.join(ROOT, "transcripts", "*.txt")))
    subprocess.run([sys.executable, "-m", "syncsh", "replay", *files], check=True,
                   capture_output=True)


def connections() -> int:
    count = 0
    for path in glob.glob(os.path.join(ROOT, "transcripts", "*.txt")):
        count += sum(1 for line in open(path) if line.startswith("C: $"))
    return count + 1


def interpreter_starts(n: int) -> None:
    for _ in range(n):
        subprocess.run([sys.executable, "-c", "pass"], check=True)


def measure() -> list[Figure]:
    value = median_of(replay, 3)
    base = median_of(lambda: interpreter_starts(connections()), 3)
    return [Figure("replay transcripts/", value, base, "s", "<= 2 s", value <= 2.0,
                   f"{connections()} connections; baseline: as many bare interpreter starts")]


if __name__ == "__main__":
    for figure in measure():
        print(figure.row())
