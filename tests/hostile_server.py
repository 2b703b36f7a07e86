"""Hostile servers for the client's tests, on stdin/stdout (an exec: target):

    python hostile_server.py MODE [N]

escapes     banner, mailbox name, flag, NO text and stderr carry escape sequences
capability  endless ``* CAPABILITY`` lines, never a banner
longline N  after the banner, every command answers one ``*`` line of N bytes, then OK
greetingline N  one line of N bytes before the banner
csynclist N, csyncnest N, csynckv N  a modern server's one line of N bytes: tiny list items,
            nested lists, small kvlists
literals N  after the banner, a reply line of N bytes of one-byte literals
stderrflood N  N bytes on stderr without a line end, then a plain server
trickle     after the banner, every reply comes one byte every 0.2 s, forever
csyncatom N a modern (csync) server whose every reply is ``* <atom of N bytes>`` then OK
"""

import sys
import time

ESC_NAME = b"user.\x1b[2Jevil\x1b]0;PWNED-NAME\x07"
ESC_FLAG = b"$\x1b]0;PWNED-FLAG\x07"
ESC_BANNER = b"* OK \x1b]0;PWNED-BANNER\x07\x1b[2J Cyrus sync server v2.2"
ESC_TEXT = b"NO \x1b[2J\x1b]0;PWNED-NO\x07 nope"

out = sys.stdout.buffer


def write(data: bytes) -> None:
    out.write(data)
    out.flush()


def commands():
    for line in sys.stdin.buffer:
        yield line.rstrip(b"\r\n")


def escapes() -> None:
    sys.stderr.buffer.write(b"starting \x1b]0;PWNED-STDERR\x07\n")
    sys.stderr.flush()
    write(ESC_BANNER + b"\r\n")
    for line in commands():
        word = line.split(b" ", 1)[0].upper()
        if word == b"EXIT":
            write(b"OK bye\r\n")
            return
        if word == b"USER_SOME":
            rows = b"".join(b"* %d 0101003f4c56b07e560000%02x (%s \\Seen)\r\n" % (uid, uid, ESC_FLAG)
                            for uid in range(1, 61))
            write(b'** 6b98205c796c6c61 "' + ESC_NAME + b'" "dpc22\tlrswipcda\t" 4151 1062945305\r\n'
                  + rows + b"OK User_Some finished\r\n")
        else:
            write(ESC_TEXT + b"\r\n")


def capability() -> None:
    line = b"* CAPABILITY " + b"X" * 60 + b"\r\n"
    chunk = line * 1000
    try:
        while True:
            write(chunk)
    except (BrokenPipeError, OSError):
        pass


def longline(size: int) -> None:
    write(b"* OK hostile Cyrus sync server v2.2\r\n")
    for line in commands():
        if line.upper().startswith(b"EXIT"):
            write(b"OK bye\r\n")
            return
        write(b"* ")
        block = b"a" * (1 << 20)
        left = size
        try:
            while left > 0:
                write(block[:left])
                left -= len(block)
            write(b"\r\nOK done\r\n")
        except (BrokenPipeError, OSError):
            return


def greetingline(size: int) -> None:
    write(b"* ")
    block = b"g" * (1 << 20)
    left = size
    try:
        while left > 0:
            write(block[:left])
            left -= len(block)
        write(b"\r\n* OK hostile Cyrus sync server v2.2\r\n")
        for _ in commands():
            write(b"OK\r\n")
    except (BrokenPipeError, OSError):
        pass


def csyncflood(size: int, unit: bytes) -> None:
    """A modern server whose reply is one line of `size` bytes of a tiny repeated unit."""
    write(b"* OK hostile Cyrus sync server v3.6.1\r\n")
    block = unit * ((1 << 20) // len(unit))
    for line in commands():
        if line.upper().startswith(b"EXIT"):
            write(b"OK bye\r\n")
            return
        write(b"* X (")
        left = size
        try:
            while left > 0:
                write(block[:left])
                left -= len(block)
            write(b")\r\nOK success\r\n")
        except (BrokenPipeError, OSError):
            return


def literals(size: int) -> None:
    """After the banner, every reply is one line of `size` bytes of one-byte literals."""
    write(b"* OK hostile Cyrus sync server v2.2\r\n")
    piece = b"{1+}\r\na "
    block = piece * ((1 << 20) // len(piece))
    for line in commands():
        if line.upper().startswith(b"EXIT"):
            write(b"OK bye\r\n")
            return
        write(b"* ")
        left = size
        try:
            while left > 0:
                write(block)
                left -= len(block)
            write(b"end\r\nOK done\r\n")
        except (BrokenPipeError, OSError):
            return


def stderrflood(size: int) -> None:
    """`size` bytes on stderr with no line end, then a normal greeting and replies."""
    block = b"e" * (1 << 20)
    left = size
    while left > 0:
        sys.stderr.buffer.write(block)
        left -= len(block)
    sys.stderr.flush()
    write(b"* OK hostile Cyrus sync server v2.2\r\n")
    for _ in commands():
        write(b"OK fine\r\n")


def trickle() -> None:
    write(b"* OK hostile Cyrus sync server v2.2\r\n")
    for _ in commands():
        try:
            while True:
                write(b"*")
                time.sleep(0.2)
        except (BrokenPipeError, OSError):
            return


def csyncatom(size: int) -> None:
    write(b"* OK hostile Cyrus sync server v3.6.1\r\n")
    for line in commands():
        if line.upper().startswith(b"EXIT"):
            write(b"OK bye\r\n")
            return
        write(b"* ")
        block = b"a" * (1 << 20)
        left = size
        while left > 0:
            write(block[:left])
            left -= len(block)
        write(b"\r\nOK success\r\n")


if __name__ == "__main__":
    mode = sys.argv[1]
    arg = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    {"escapes": lambda: escapes(), "capability": lambda: capability(),
     "longline": lambda: longline(arg), "trickle": lambda: trickle(),
     "greetingline": lambda: greetingline(arg), "literals": lambda: literals(arg),
     "stderrflood": lambda: stderrflood(arg),
     "csynclist": lambda: csyncflood(arg, b"1 "), "csyncnest": lambda: csyncflood(arg, b"("),
     "csynckv": lambda: csyncflood(arg, b"%(k 1) "),
     "csyncatom": lambda: csyncatom(arg)}[mode]()
