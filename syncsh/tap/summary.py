"""One line saying what a client command is, for the live view: the command itself when it
is short, its gist when it carries records or message bodies."""

from __future__ import annotations

import re

from syncsh.tap.frames import Framed

WIDTH = 160
_MBOXNAME = re.compile(rb"MBOXNAME (\"[^\"]*\"|[^ ()\"]+)")
_GUID_LIST = re.compile(rb"GUID \(([^()]*)\)")


def size_text(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


def printable(text: str) -> str:
    """Text with every control character shown as an escape: bytes from the wire never
    reach the terminal as control sequences (a TAB, common in ACLs, becomes a space)."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch == "\t":
            out.append(" ")
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code & 0xff:02x}" if code < 0x100 or 0xdc80 <= code <= 0xdcff
                       else f"\\u{code:04x}")
    return "".join(out)


def clip(text: str, width: int = WIDTH) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def describe(verb: str, kind: str, framed: Framed) -> str:
    """The live view's line for a command."""
    raw = framed.raw
    if framed.literals and any(lit.guid for lit in framed.literals):
        files = [lit for lit in framed.literals if lit.guid]
        total = sum(lit.size for lit in files)
        return (f"{verb} {kind} ({len(files)} message{'s' * (len(files) != 1)}, "
                f"{size_text(total)})")
    if len(raw) <= WIDTH and not framed.literals:
        return printable(raw.rstrip(b"\r\n").decode("utf-8", "replace"))
    head = f"{verb} {kind}".rstrip()
    parts = []
    name = _MBOXNAME.search(raw)
    if name:
        parts.append(name.group(1).decode("utf-8", "replace").strip('"'))
    records = raw.count(b"%(UID ")
    if records:
        parts.append(f"{records} record{'s' * (records != 1)}")
    guids = _GUID_LIST.search(raw)
    if guids and kind == "RESERVE":
        parts.append(f"{len(guids.group(1).split())} GUIDs")
    if framed.literals:
        parts.append(f"{len(framed.literals)} literal{'s' * (len(framed.literals) != 1)}")
    parts.append(size_text(len(raw)))
    return printable(f"{head} " + "  ".join(parts))
