"""Catch Cyrus' syslog lines when the host has no /dev/log: sync failures (SYNCERROR,
IMAP_SYNC_CHECKSUM, asserts) show there. Usage: syslog_catcher.py LOGFILE."""

import os
import re
import signal
import socket
import sys
import time

LEVELS = "emerg alert crit err warning notice info debug".split()


def main(log: str) -> None:
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        receiver.bind("/dev/log")
    except OSError:          # another run's catcher has it: its file gets the lines
        return
    os.chmod("/dev/log", 0o666)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))     # so /dev/log is removed
    try:
        with open(log, "ab", buffering=0) as out:
            while True:
                data = receiver.recv(65536).rstrip(b"\0\n")
                match = re.match(rb"<(\d+)>", data)
                level = LEVELS[int(match.group(1)) & 7] if match else "?"
                if match:
                    data = re.sub(rb"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ", b"",
                                  data[match.end():])
                out.write(b"%s %-7s %s\n" % (time.strftime("%H:%M:%S").encode(),
                                             level.encode(), data))
    finally:
        os.unlink("/dev/log")


if __name__ == "__main__":
    main(sys.argv[1])
