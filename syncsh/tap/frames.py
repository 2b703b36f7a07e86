"""Cutting the client's byte stream into whole commands, sans-IO.

A command is one line, unless a line ends with a literal header: ``{n}``/``{n+}`` (both
dialects) or a file literal ``%{partition guid n}`` (the modern APPLY MESSAGE); then n raw
bytes follow and the command goes on after them.  The framer remembers where each literal
lies, so that a summary, the record and the JSON view can walk them without re-parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# a literal header at the end of a physical line (the line's own LF excluded)
_HEADER = re.compile(rb"(?:\{(\d{1,20})\+?\}|%\{([^ {}\r\n]{1,200}) ([^ {}\r\n]{1,200}) "
                     rb"(\d{1,20})\})\r?\Z")
_HEADER_TAIL = 460          # a header is never longer than this: search only the line's end


@dataclass(frozen=True, slots=True)
class Literal:
    header: tuple[int, int]     # where the header ``{n+}``/``%{p g n}`` lies in the command
    data: tuple[int, int]       # where its bytes lie
    partition: str | None = None
    guid: str | None = None     # a file literal's (message bodies)

    @property
    def size(self) -> int:
        return self.data[1] - self.data[0]


@dataclass(frozen=True, slots=True)
class Framed:
    raw: bytes                  # the command as it crossed the wire, its line end included
    literals: tuple[Literal, ...] = ()

    def text_parts(self) -> list[bytes]:
        """The command's bytes outside its literals (headers kept), line ends dropped."""
        parts, at = [], 0
        for literal in self.literals:
            parts.append(self.raw[at:literal.header[1]].rstrip(b"\r\n"))
            at = literal.data[1]
        parts.append(self.raw[at:].rstrip(b"\r\n"))
        return parts

    @property
    def head(self) -> bytes:
        """The first physical line, without its line end."""
        end = self.raw.find(b"\n")
        return self.raw[:end].rstrip(b"\r") if end >= 0 else self.raw


class CommandFramer:
    """Feed bytes, take whole commands.  Never holds more than the command in progress."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self._scan = 0              # where to look for the next line end
        self._line = 0              # where the physical line being read starts
        self._literals: list[Literal] = []

    def feed(self, data: bytes) -> None:
        self.buf += data

    @property
    def pending(self) -> int:
        return len(self.buf)

    def take_rest(self) -> bytes:
        """Every byte not yet framed (the stream switches: COMPRESS, STARTTLS)."""
        rest = bytes(self.buf)
        self.buf.clear()
        self._scan, self._line, self._literals = 0, 0, []
        return rest

    def next_command(self) -> Framed | None:
        buf = self.buf
        while True:
            end = buf.find(b"\n", self._scan)
            if end < 0:
                self._scan = max(self._scan, len(buf))
                return None
            match = _HEADER.search(bytes(buf[max(self._line, end - _HEADER_TAIL):end]))
            if match is None:
                raw = bytes(buf[:end + 1])
                del buf[:end + 1]
                literals, self._literals, self._scan, self._line = tuple(self._literals), [], 0, 0
                return Framed(raw, literals)
            size = int(match.group(1) or match.group(4))
            start = end + 1
            if len(buf) < start + size:
                self._scan = self._line  # the literal's bytes are still on their way
                return None
            header_start = end - len(match.group(0))
            header_end = end + 1
            partition = match.group(2).decode("utf-8", "replace") if match.group(2) else None
            guid = match.group(3).decode("ascii", "replace") if match.group(3) else None
            self._literals.append(Literal((header_start, header_end), (start, start + size),
                                          partition, guid))
            self._scan = self._line = start + size
