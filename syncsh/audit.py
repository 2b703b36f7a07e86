"""The one audit trail: every write sent to a non-demo target, from any door, appended to
``audit.log`` in the data directory.  One line a write, tab-separated:

    TIME  LOCAL-USER  TARGET  DOOR  COMMAND  FINAL-REPLY

TIME is UTC (ISO 8601); the command is as sent, with each literal's bytes replaced by their
size (a message body or a sieve script is not copied, and never a secret: authentication
is not a write); tabs, line ends and other control characters are shown escaped, so that
one write is always one line."""

from __future__ import annotations

import functools
import os
import re
import sys
import time

# {n} / {n+} (documented dialect) and %{partition guid n} (dlist file literal), then CRLF
_LITERAL = re.compile(rb"(\{(\d{1,20})\+?\}|%\{[^{}\r\n]* (\d{1,20})\})\r?\n")


def path(environ=None) -> str:
    from syncsh.private import data_dir_path as data_dir
    return os.path.join(data_dir(environ), "audit.log")


def summarised(wire: str | bytes) -> str:
    """The command as sent, each literal's bytes replaced by ``[N bytes]``."""
    data = wire if isinstance(wire, bytes) else wire.encode("utf-8", "surrogateescape")
    out = []
    pos = 0
    while True:
        match = _LITERAL.search(data, pos)
        if match is None:
            out.append(data[pos:])
            break
        size = int(match.group(2) or match.group(3))
        out.append(data[pos:match.end(1)] + b"[%d bytes]" % size)
        pos = match.end() + size
    return _escaped(b"".join(out).decode("utf-8", "replace").rstrip("\r\n"))


def _escaped(text: str) -> str:
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


@functools.lru_cache(maxsize=1)
def local_user() -> str:
    import getpass
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def record(target: str, door: str, wire, done, warn=None, environ=None) -> None:
    """Append one write; a log that cannot be written is said (``warn``: the front end's
    one-line warnings), and the session goes on.  ``environ``: the command's variables
    (where the data directory is)."""
    from syncsh import private
    reply = f"{done.status} {done.text}".strip() if done is not None else "(no reply)"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    fields = [stamp, local_user(), target, door, private.masked(summarised(wire)), reply]
    line = "\t".join(_escaped(field) for field in fields) + "\n"
    where = path(environ)
    try:
        private.data_dir(environ)
        with private.open_append(where) as handle:
            handle.write(line.encode("utf-8", "replace"))
    except OSError as exc:
        text = f"cannot write the audit log {where}: {exc.strerror}"
        if warn is not None:
            warn(text)
        else:
            print(f"syncsh: warning: {text}", file=sys.stderr)
