"""Figure 1: start-up to a usable prompt on demo:cyrus-2 (under 0.3 s), against ptpython's
start-up measured the same way (ratio <= 1.0).  Both run under a pseudo-terminal; the clock
stops when the prompt appears."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time

from common import DATA, Figure


def time_to_prompt(argv: list[str], prompt: str, env: dict) -> float:
    import pexpect
    start = time.perf_counter()
    child = pexpect.spawn(argv[0], argv[1:], env=env, dimensions=(40, 120), timeout=30)
    child.expect(prompt)
    elapsed = time.perf_counter() - start
    child.sendcontrol("d")
    child.close(force=True)
    return elapsed


def measure() -> list[Figure]:
    env = dict(os.environ, SYNCSH_DATA_DIR=os.path.join(DATA, "startup"), TERM="xterm")
    env.pop("NO_COLOR", None)
    # Some sandboxes set PYTHONDONTWRITEBYTECODE, so every start recompiled syncsh from
    # source (about 0.1 s) while ptpython's modules came compiled by pip.  An installed
    # copy has its bytecode cached after the first start; the warm-up run below writes it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # what users run: the console script, as for ptpython (python -m adds runpy: ~8 ms)
    syncsh = ([os.path.join(os.path.dirname(sys.executable), "syncsh")], "syncsh>")
    # the floor every prompt_toolkit console stands on: importing it and drawing a prompt
    bare = ([sys.executable, "-c", "from prompt_toolkit import prompt; prompt('bare> ')"],
            "bare>")
    ptpython = shutil.which("ptpython", path=os.path.dirname(sys.executable))
    time_to_prompt(*syncsh, env)                                  # creates the demo pair
    # this machine's speed drifts: take turns, so that all three are timed in the same moments
    times: dict[str, list[float]] = {"syncsh": [], "bare": [], "ptpython": []}
    for _ in range(9):
        times["syncsh"].append(time_to_prompt(*syncsh, env))
        times["bare"].append(time_to_prompt(*bare, env))
        if ptpython:
            times["ptpython"].append(time_to_prompt([ptpython], ">>>", env))
    ours, floor = statistics.median(times["syncsh"]), statistics.median(times["bare"])
    note = f"a bare prompt_toolkit prompt: {floor:.3g} s"
    if ptpython is None:
        return [Figure("start-up to prompt", ours, float("nan"), "s", "<= 0.3 s, <= ptpython",
                       ours <= 0.3, "ptpython not installed: ./dev bench installs it; " + note)]
    base = statistics.median(times["ptpython"])
    return [Figure("start-up to prompt", ours, base, "s", "<= 0.3 s and <= ptpython",
                   ours <= 0.3 and ours <= base, "baseline: ptpython to its prompt; " + note)]


if __name__ == "__main__":
    for figure in measure():
        print(figure.row())
