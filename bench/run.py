"""Run every benchmark and write the table of the latest results into bench/README.md.

    ./dev bench            (or: python bench/run.py [name …])
"""

from __future__ import annotations

import datetime
import importlib
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

BENCHES = ["bench_startup", "bench_parse", "bench_output", "bench_diff", "bench_cyrus_diff",
           "bench_audit", "bench_ssh", "bench_server", "bench_replay", "bench_tap"]
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def main(names: list[str]) -> int:
    rows = []
    for name in names or BENCHES:
        module = importlib.import_module(name)
        print(f"== {name}", flush=True)
        try:
            figures = module.measure()
        except Exception as exc:          # one broken figure must not hide the others
            print(f"   failed: {type(exc).__name__}: {exc}", flush=True)
            rows.append(f"| {name} | – | – | – | – | error | {type(exc).__name__}: {exc} |")
            continue
        for figure in figures:
            print("   " + figure.row(), flush=True)
            rows.append(figure.row())
    if not names:
        write_readme(rows)
    return 0


def write_readme(rows: list[str]) -> None:
    path = os.path.join(HERE, "README.md")
    text = open(path, encoding="utf-8").read()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = "\n".join([
        BEGIN,
        f"Latest run: {stamp}, Python {platform.python_version()}, {os.cpu_count()} cores.",
        "",
        "| figure | syncsh | baseline | ratio | target | verdict | note |",
        "|---|---|---|---|---|---|---|",
        *rows,
        END])
    start, end = text.index(BEGIN), text.index(END) + len(END)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text[:start] + table + text[end:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
