"""A fake documented-dialect server for benchmarks: its banner, then FILE's reply to the
first command, then OK to everything else."""

import os
import sys

path = sys.argv[1]
out = sys.stdout.buffer
with open(path, "rb") as handle:
    banner = handle.readline()
    out.write(banner)
    out.flush()
    first = True
    for line in sys.stdin.buffer:
        if first:
            first = False
            while True:
                chunk = handle.read(1 << 20)
                if not chunk:
                    break
                out.write(chunk)
        elif line.upper().startswith(b"EXIT"):
            out.write(b"OK Finished\r\n")
            out.flush()
            break
        else:
            out.write(b"OK [CONTINUE] Unlocked big\r\n")
        out.flush()
