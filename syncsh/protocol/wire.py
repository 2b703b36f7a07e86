"""The lexical layer of the documented dialect (legacy-protocol.md section 4).

Sans-IO: bytes in, logical lines and tokens out; values in, bytes out.  Both the client
codec and the reference server stand on this module.

A *logical line* is one command or one reply: a physical line, unless it ends with a
literal header ``{n}``/``{n+}``, in which case n raw bytes follow and the logical line
goes on after them.  The framer hands out a plain ``bytes`` object for a line without
literals (the overwhelmingly common case, kept cheap for million-line replies) and a
:class:`LogicalLine` for one with literals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from syncsh.errors import ProtocolError

CRLF = b"\r\n"

# The longest reply line a client holds (a longer one is skipped, said in one line): reply
# lines are short, but for a modern server's lists (MISSING, LSUB); records stream apart.
MAX_REPLY_LINE = 8 << 20

MAX_ATOM = 1023
MAX_QUOTED = 1023

_LITERAL_AT_END = re.compile(rb"\{(\d{1,20})(\+?)\}\Z")
# What a writer may print as an atom (section 4.1): no 8-bit, no control byte below
# 0x1F (0x1F itself is allowed, an original quirk), no DEL, no specials.
_ATOM_OK = re.compile(rb'[^\x00-\x1e\x7f-\xff {()"%%*\\]{1,%d}\Z' % MAX_ATOM)
# What may stand between double quotes on output (section 4.2).
_QUOTED_OK = re.compile(rb'[^\x80-\xff\r\n"%%\\]{0,%d}\Z' % MAX_QUOTED)


# --------------------------------------------------------------------------- framing

@dataclass(slots=True)
class LogicalLine:
    """A logical line that carried literals: text, literal, text, literal, …, text."""

    parts: list[bytes]
    headers: list[bytes] = field(default_factory=list)  # the ``{n+}`` marker of each literal

    @property
    def raw(self) -> bytes:
        """The line as it crossed the wire, CRLF included."""
        out = [self.parts[0]]
        for header, literal, text in zip(self.headers, self.parts[1::2], self.parts[2::2]):
            out += [header, CRLF, literal, text]
        out.append(CRLF)
        return b"".join(out)

    @property
    def literals(self) -> list[bytes]:
        return self.parts[1::2]


@dataclass(frozen=True, slots=True)
class ContinuationRequest:
    """A synchronising literal ``{n}`` was announced: the server must say ``+ go ahead``."""

    size: int


@dataclass(frozen=True, slots=True)
class FrameError:
    """A logical line that cannot be read (too long, literal too large).  The framer has
    already arranged to discard the rest of it."""

    reason: str


def raw_of(line: bytes | LogicalLine) -> bytes:
    return line + CRLF if isinstance(line, bytes) else line.raw


class Framer:
    """Cuts a byte stream into logical lines.

    ``server_side`` makes it ask for ``+ go ahead`` on synchronising literals; a client
    reading replies simply reads the bytes.  Oversized lines and literals are refused
    without being held in memory.

    The buffer is a bytearray that grows at its end and is cut at its front only once half
    of it has been read, and the search for a line end resumes where the last one stopped:
    a line arriving in many pieces costs time in proportion to its length, not its square.
    """

    def __init__(self, *, server_side: bool = False, max_line: int = 64 << 20,
                 max_literal: int = 1 << 30) -> None:
        self.server_side = server_side
        self.max_line = max_line
        self.max_literal = max_literal
        self._buf = bytearray()
        self._pos = 0
        self._scanned = 0            # no line end before this offset (from _pos on)
        self._parts: list[bytes] = []
        self._headers: list[bytes] = []
        self._line_text = 0          # a client's logical line so far: text (and pieces),
        self._line_literals = 0      # and literal bytes
        self._literal_size = -1      # >= 0 while reading a literal's bytes
        self._skip_bytes = 0         # bytes of a refused literal still to drop
        self._discard_line = False   # drop the rest of the current logical line
        self._announced = False      # continuation already requested for this literal
        self.eof = False

    def feed(self, data: bytes) -> None:
        if not data:
            self.eof = True
            return
        if self._pos and self._pos * 2 >= len(self._buf):
            del self._buf[:self._pos]            # (amortised: at most once per half read)
            self._scanned = max(0, self._scanned - self._pos)
            self._pos = 0
        self._buf += data

    def take_rest(self) -> bytes:
        """Every byte received and not yet framed (a codec switch hands them on)."""
        rest = bytes(self._buf[self._pos:])
        self._buf, self._pos, self._scanned = bytearray(), 0, 0
        return rest

    @property
    def pending(self) -> int:
        """Bytes received but not yet handed out (a partial line or literal)."""
        return len(self._buf) - self._pos + sum(map(len, self._parts))

    def complete_lines(self, limit: int):
        """``(buffer, start, stop)``: the complete physical lines waiting, at most about
        ``limit`` bytes of them, for a codec that reads a run of plain lines in one pass;
        None while a literal, a refused line or a continued line is in progress."""
        if self._parts or self._literal_size >= 0 or self._skip_bytes or self._discard_line:
            return None
        start = self._pos
        stop = self._buf.rfind(b"\n", start, start + limit) + 1
        if stop <= start:
            return None
        return self._buf, start, stop

    def skip_to(self, stop: int) -> None:
        """The lines up to ``stop`` (from ``complete_lines``) were read by the codec."""
        self._pos = stop

    def __iter__(self):
        return self

    def __next__(self):
        item = self.next_item()
        if item is None:
            raise StopIteration
        return item

    def next_item(self):
        """The next complete logical line (``bytes`` or ``LogicalLine``), a
        ``ContinuationRequest``, a ``FrameError``, or None when more bytes are needed."""
        while True:
            if self._skip_bytes:
                available = len(self._buf) - self._pos
                take = min(available, self._skip_bytes)
                self._pos += take
                self._skip_bytes -= take
                if self._skip_bytes:
                    return None
            if self._literal_size >= 0:
                item = self._read_literal()
                if item is not True:
                    return item
                continue
            end = self._buf.find(b"\n", max(self._pos, self._scanned))
            if end < 0:
                self._scanned = len(self._buf)
                if len(self._buf) - self._pos > self.max_line and not self._discard_line:
                    self._pos = len(self._buf)
                    self._discard_line = True
                    self._reset_line()
                    return FrameError("Line too long")
                if self._discard_line:
                    self._pos = len(self._buf)
                return None
            if end - self._pos > self.max_line + 1 and not self._discard_line:
                self._pos = end + 1
                self._reset_line()                   # arrived whole, but too long all the same
                return FrameError("Line too long")
            line = bytes(self._buf[self._pos:end])
            self._pos = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            item = self._complete_physical_line(line)
            if item is not None:
                return item

    def _complete_physical_line(self, line: bytes):
        match = _LITERAL_AT_END.search(line) if line.endswith(b"}") else None
        if match is None:
            if self._discard_line:
                self._discard_line = False
                return None
            if not self._parts:
                return line
            self._parts.append(line)
            result = LogicalLine(self._parts, self._headers)
            self._reset_line()
            return result
        size = int(match.group(1))
        synchronising = not match.group(2)
        if self._discard_line:
            if synchronising:
                # no one says "go ahead": no bytes follow and the refused line ends here
                self._discard_line = False
            else:
                self._skip_bytes = size
            return None
        if size > self.max_literal or self._logical_line_too_big(line, size):
            self._reset_line()
            if not synchronising:           # its bytes come all the same: skip them and
                self._skip_bytes = size     # the rest of the line
                self._discard_line = True
            # (a synchronising one is never sent: the next line is the next command)
            return FrameError("Literal too large")
        self._parts.append(line[:match.start()])
        self._headers.append(line[match.start():])
        self._literal_size = size
        self._announced = False
        if synchronising and self.server_side:
            self._announced = True
            return ContinuationRequest(size)
        return None

    def _read_literal(self):
        size = self._literal_size
        if len(self._buf) - self._pos < size:
            return None
        self._parts.append(bytes(self._buf[self._pos:self._pos + size]))
        self._pos += size
        self._literal_size = -1
        return True

    def _logical_line_too_big(self, line: bytes, size: int) -> bool:
        """A reply line made long by its literals (a client's guard: a server could send
        `{1+}` pieces forever): its text, 32 bytes a piece, against max_line; its literals
        together against max_literal.  A server reads what its clients upload as before."""
        if self.server_side:
            return False
        self._line_text += len(line) + 64          # (a text piece and a literal each held)
        self._line_literals += size
        return self._line_text > self.max_line or self._line_literals > self.max_literal

    def _reset_line(self) -> None:
        self._line_text = self._line_literals = 0
        self._parts = []
        self._headers = []
        self._literal_size = -1


# --------------------------------------------------------------------------- tokens

ATOM, STRING, LITERAL, LPAREN, RPAREN, SP = "atom", "string", "literal", "(", ")", " "

_TOKEN = re.compile(rb' |\(|\)|"((?:[^"\\]|\\.)*)"|[^ ()"]+', re.S)
_UNQUOTE = re.compile(rb"\\(.)", re.S)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    value: bytes = b""

    def text(self) -> str:
        return decode(self.value)


_SP = Token(SP)
_LP = Token(LPAREN)
_RP = Token(RPAREN)


def tokenize(line: bytes | LogicalLine) -> list[Token]:
    """All tokens of a logical line, spaces included (the grammar counts them).

    Raises ProtocolError for an unterminated quoted string."""
    if isinstance(line, bytes):
        return _tokenize_text(line)
    tokens: list[Token] = []
    parts = line.parts
    for i, part in enumerate(parts):
        if i % 2:
            tokens.append(Token(LITERAL, part))
        else:
            tokens += _tokenize_text(part)
    return tokens


def _tokenize_text(text: bytes) -> list[Token]:
    tokens = []
    pos = 0
    end = len(text)
    match = _TOKEN.match
    while pos < end:
        m = match(text, pos)
        if m is None:
            raise ProtocolError("unterminated quoted string")
        s = m.group()
        if s == b" ":
            tokens.append(_SP)
        elif s == b"(":
            tokens.append(_LP)
        elif s == b")":
            tokens.append(_RP)
        elif s[:1] == b'"':
            tokens.append(Token(STRING, _UNQUOTE.sub(rb"\1", m.group(1))))
        else:
            tokens.append(Token(ATOM, s))
        pos = m.end()
    return tokens


# --------------------------------------------------------------------------- values

def decode(value: bytes) -> str:
    """Bytes of a name or text to str, losslessly (8-bit bytes survive a round trip)."""
    return value.decode("utf-8", "surrogateescape")


def encode(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


def is_atom(value: bytes) -> bool:
    return _ATOM_OK.match(value) is not None


def astring(value: str | bytes) -> bytes:
    """Print a value the way the original implementations did (section 4.2)."""
    data = encode(value)
    if _ATOM_OK.match(data):
        return data
    if _QUOTED_OK.match(data):
        return b'"' + data + b'"'
    return literal(data)


def quoted_or_literal(value: str | bytes) -> bytes:
    """Like astring but never an atom (LIST_SIEVE script names)."""
    data = encode(value)
    if _QUOTED_OK.match(data):
        return b'"' + data + b'"'
    return literal(data)


def literal(data: bytes) -> bytes:
    """A non-synchronising literal: the only kind a client of ours ever sends."""
    return b"{%d+}\r\n" % len(data) + data


def flag_list(flags) -> bytes:
    return b"(" + b" ".join(encode(f) for f in flags) + b")"
