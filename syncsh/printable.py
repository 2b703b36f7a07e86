"""Server text made safe for a terminal: the one escaping function.

Whatever a server sends (a mailbox name, a flag, a banner, a NO text, a sieve script) may
hold control characters; written raw, ``ESC [2J`` clears the screen and ``ESC ]0;…`` sets
the window title.  Everything that shows server text on a terminal (tables, raw lines on a
terminal, the trace, the pager, error lines) passes it through :func:`printable`, which shows
each control character as an escape, as git and less do: C0 but TAB, DEL and C1 as
``\\x1b``; bytes that are not UTF-8 (kept as surrogates) as ``\\xNN`` too, since a terminal
in another encoding would take 0x9b for a CSI.  Output to a pipe or a file is not escaped.
"""

from __future__ import annotations

import re

# C0 but TAB (LF too when a block of lines is shown), DEL, C1, and the surrogates that
# stand for undecodable bytes.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\udc80-\udcff]")
_UNSAFE_BLOCK = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\udc80-\udcff]")


def _escape_char(match: re.Match) -> str:
    code = ord(match.group())
    if code >= 0xDC80:                   # an undecodable byte (surrogateescape)
        code -= 0xDC00
    return f"\\x{code:02x}"


def printable(text: str, *, block: bool = False) -> str:
    """``text`` with every control character shown as an escape.  ``block``: text of
    several lines (a sieve script) keeps its line ends (CRLF shown as a newline)."""
    if block:
        text = text.replace("\r\n", "\n")
        pattern = _UNSAFE_BLOCK
    else:
        pattern = _UNSAFE
    if pattern.search(text) is None:     # the usual case: nothing to do, no copy
        return text
    return pattern.sub(_escape_char, text)


def has_unsafe(text: str) -> bool:
    return _UNSAFE.search(text) is not None


def printable_bytes(data: bytes) -> str:
    """Wire bytes shown on a terminal (the trace, raw lines): decoded losslessly, escaped."""
    return printable(data.decode("utf-8", "surrogateescape"))


def for_markup(text: str) -> str:
    """Server text inside rich markup: control characters escaped, and rich's own markup
    characters taken literally."""
    from rich.markup import escape
    return escape(printable(text))
