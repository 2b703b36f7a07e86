"""What the reference server's session and its command handlers share: the two output
channels, name checks, how a name is shown in a reply, the one-line final reply, staged
message bodies."""

from __future__ import annotations

import re
from dataclasses import dataclass

from syncsh.protocol.wire import Framer, decode, literal

OUT, TRACE = 1, 2
SEED_BANNER = b"* Sync Server v0.0 [EXPERIMENTAL]\r\n"
STAGING_LIMIT = 512 << 20
MAX_LINE = 16 << 20          # a physical command line (UPLOAD of many COPY items fits)
MAX_LITERAL = 256 << 20      # one message or script; a larger one is refused, never allocated

GUID24 = re.compile(rb"[0-9a-fA-F]{24}\Z")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-+=@^~]{0,63}\Z")
UNIQUEID = re.compile(r"[0-9A-Za-z_\-]{1,64}\Z")


def valid_mailbox_name(name: str) -> bool:
    if not name or len(name.encode("utf-8", "surrogateescape")) > 490:
        return False
    if any(ord(c) < 0x20 or c == "\x7f" for c in name):
        return False
    return "" not in name.split(".")


def valid_user(user: str) -> bool:
    return _USER.match(user) is not None


def shown(value: str, *, quoted: bool = False) -> str:
    """A name or user in a reply text, as the protocol prints it (section 4.2): as it is
    (or between quotes) when a quoted string could hold it, else a literal, so that a CR or
    LF in it can never end the reply line early and forge another."""
    data = value.encode("utf-8", "surrogateescape")
    if not _UNQUOTABLE.search(data):
        return f'"{value}"' if quoted else value
    return decode(literal(data))


_UNQUOTABLE = re.compile(rb"[\r\n\x00]")


def final_reply(status: bytes, text: str) -> bytes:
    """``status text`` CRLF, checked to be one logical line: whatever a text quotes (an
    exception's words, a name) can never make two replies of one."""
    line = status + b" " + text.encode("utf-8", "surrogateescape") + b"\r\n"
    framer = Framer()
    framer.feed(line)
    if framer.next_item() is None or framer.pending:
        line = status + b" " + _UNQUOTABLE.sub(b" ", line[len(status) + 1:-2]) + b"\r\n"
    return line


@dataclass(slots=True)
class Staged:
    body: bytes
    hdrsize: int
    lines: int
    cache_version: int = 0
    cache: bytes | None = None


def parse_body(body: bytes) -> tuple[int, int]:
    """Header size and body line count, as the server works them out for SIMPLE items."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = body.find(sep)
        if i >= 0:
            hdrsize = i + len(sep)
            return hdrsize, body.count(b"\n", hdrsize)
    return len(body), 0


def in_sequence_set(uid: int, seqset: str) -> bool:
    for item in filter(None, seqset.split(",")):
        low, _, high = item.partition(":")
        try:
            a = int(low)
            b = int(high) if high and high != "*" else (1 << 32 if high == "*" else a)
        except ValueError:
            continue
        if min(a, b) <= uid <= max(a, b):
            return True
    return False
