"""The dlist values of the modern protocol (csync-protocol.md section 3) and how they are
written: ``None`` is NIL; ``str`` an atom or string; ``bytes`` a literal (a binary map);
``int`` a number; :class:`Flag` a flag printed raw; ``list`` a list; :class:`KV` a kvlist
(an ordered dict); :class:`File` a file literal.  :func:`encode` prints them exactly as
Cyrus does, except that literals are always sent ``{n+}`` (a plain ``{n}`` kills a 3.6
sync_server).  Reading them is dlist.py's."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ATOM_OK = re.compile(rb'[^\x00-\x1e\x7f-\xff {()"%%*\\]{1,1023}\Z')
_QUOTED_OK = re.compile(rb'[^\x80-\xff\r\n"%%\\]{0,1023}\Z')


class Flag(str):
    """A flag (``\\Seen``, ``$Label1``): printed as it is."""


class KV(dict):
    """A kvlist: keys in the order they were given."""


@dataclass(frozen=True, slots=True)
class File:
    partition: str
    guid: str
    data: bytes


# --------------------------------------------------------------------------- encoding

def encode(value) -> bytes:
    if value is None:
        return b"NIL"
    if isinstance(value, Flag):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, (str, bytes)):
        return _string(value)
    if isinstance(value, dict):
        return b"%(" + b" ".join(_string(k) + b" " + encode(v) for k, v in value.items()) + b")"
    if isinstance(value, (list, tuple)):
        return b"(" + b" ".join(encode(v) for v in value) + b")"
    if isinstance(value, File):
        return b"%%{%s %s %d}\r\n" % (value.partition.encode(), value.guid.encode(),
                                      len(value.data)) + value.data
    raise TypeError(f"no dlist form for {type(value).__name__}")


def _string(value) -> bytes:
    data = value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
    if data != b"NIL" and _ATOM_OK.match(data):
        return data
    if _QUOTED_OK.match(data):
        return b'"' + data + b'"'
    return b"{%d+}\r\n" % len(data) + data


def encode_named(name: str, value) -> bytes:
    return name.encode() + b" " + encode(value)


def as_int(value, default: int | None = None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
