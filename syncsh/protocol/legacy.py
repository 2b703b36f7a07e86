"""The client end of the documented dialect, as a sans-IO state machine (h11's shape).

    conn = ClientConnection()
    conn.receive_data(bytes_from_server)
    banner = conn.next_event()                 # Banner
    wire = conn.send("user_some dpc22 user.dpc22")
    conn.receive_data(...)
    while (event := conn.next_event()) not in (None, NEED_DATA): ...   # Mailbox, Message, …, Done

Untagged lines are read according to the command in flight (the command table's
``replies``): after USER_SOME a ``*`` line is a message, after RESERVE a GUID, after LSUB
a mailbox name.  A line that cannot be read becomes an ``Untagged`` event carrying a
``problem`` text; it never stops the session.
"""

from __future__ import annotations

import re

from syncsh.errors import ProtocolError
from syncsh.model import FlagSets, Mailbox, Message, MessageBatch, SieveScript
from syncsh.protocol import commands
from syncsh.protocol.events import (NEED_DATA, Banner, ContentsItem, Continuation, Done,
                                    Reserved, SelectInfo, Subscription, Untagged)
from syncsh.protocol.wire import (ATOM, LITERAL, LPAREN, MAX_REPLY_LINE, RPAREN, SP,
                                  CRLF, Framer, FrameError, LogicalLine, Token, decode, raw_of,
                                  tokenize)

_FINAL_WORDS = (b"OK", b"NO", b"BAD")
_MESSAGE_REPLIES = ("mailboxes", "messages")

# Big listings are read a region of lines at a time (see ClientConnection.batch): only the
# plainest message lines, those _fast_message reads the same way, and only where a region
# holds nothing else; any other line sends its region through the line-by-line path.
_RUN_BYTES = 1 << 16
_RUN_MIN_LINES = 32
_RUN_START = re.compile(rb"\* [0-9]+ [0-9a-fA-F]+ \(")
_RUN_END = re.compile(rb"\n(?!\* [0-9])")
_RUN_LINE = re.compile(r"(?m)^\* [0-9]+ [0-9a-fA-F]+ \([^()\"\r\n\x00]*\)\r\n")


def _split_flags(inner: str) -> tuple[str, ...]:
    return tuple(inner.split(" ")) if inner else ()


class _Run:
    """The raw bytes of a run of lines read as one MessageBatch."""
    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        self.raw = raw


SEED_BANNER = "* Sync Server v0.0 [EXPERIMENTAL]"
_VERSION = re.compile(r"Cyrus sync server v?(\d+)\.(\d+)(?:\.(\d+))?(\S*)", re.I)

# Dialect names
SEED, Y2005, V23, CSYNC = "seed", "2005", "2.3", "csync"
DIALECTS = (SEED, Y2005, V23, CSYNC)


# --------------------------------------------------------------------------- banner

def detect_dialect(banner_line: str) -> tuple[str, str | None]:
    """(dialect, version) from the line that ends the greeting."""
    if banner_line.strip() == SEED_BANNER:
        return SEED, "v0.0"
    match = _VERSION.search(banner_line)
    if match is None:
        return SEED, None
    major, minor = int(match.group(1)), int(match.group(2))
    version = ".".join(g for g in match.group(1, 2, 3) if g) + match.group(4)
    if (major, minor) < (2, 3):
        return Y2005, version
    if (major, minor) == (2, 3):
        return V23, version
    return CSYNC, version


def is_banner_end(line: str) -> bool:
    return line.startswith("* OK") or line.strip() == SEED_BANNER


# --------------------------------------------------------------------------- connection

class GreetingTooLong(ProtocolError):
    """More lines before the banner than any server sends: a flood, not a greeting."""


class ClientConnection:
    def __init__(self, dialect: str | None = None, *, max_line: int = MAX_REPLY_LINE,
                 max_greeting_lines: int = 1000) -> None:
        self.framer = Framer(max_line=max_line)
        self.max_line = max_line
        self.max_greeting_lines = max_greeting_lines
        self._greeting_lines = 0
        self.forced_dialect = dialect
        self.dialect = dialect
        self.banner: Banner | None = None
        self.capabilities: list[str] = []
        self.in_flight: str | None = None     # command word, upper case
        self.last_line: bytes | LogicalLine | None = None
        self.reading: str | None = None
        self.batch = False                # message lines may come as MessageBatch runs
        self._slow_lines = 0              # lines of a mixed region still to read one by one
        self._flag_sets = FlagSets(_split_flags)                       # "a b" → ("a", "b")
        self._flag_lists = FlagSets(lambda text: _split_flags(text[1:-1]))   # "(a)" → ("a",)

    @property
    def last_raw(self) -> bytes:
        line = self.last_line
        if line is None or isinstance(line, FrameError):
            return b""                    # (a refused line: its bytes were never kept)
        return line.raw if isinstance(line, _Run) else raw_of(line)

    def send(self, line: str | bytes) -> bytes:
        """Bytes for one command line; the connection now expects its reply."""
        if self.banner is None:
            raise ProtocolError("cannot send before the server's greeting")
        if self.in_flight is not None:
            raise ProtocolError(f"{self.in_flight} is still waiting for its reply")
        # A typed line may come with its newline; built commands (bytes) are sent as given,
        # and a literal at the end of one may itself end in CRLF: always terminate.
        data = line if isinstance(line, bytes) else \
            line.rstrip("\r\n").encode("utf-8", "surrogateescape")
        word = data.split(b" ", 1)[0].split(b"\r", 1)[0].decode("ascii", "replace").upper()
        self.in_flight = word or "?"
        spec = commands.LEGACY.get(word) if self.dialect in (SEED, Y2005) else None
        self.reading = spec.replies if spec else None     # how "*" lines will be read
        return data + CRLF

    def receive_data(self, data: bytes) -> None:
        self.framer.feed(data)

    def next_event(self):
        if self.batch and self.reading in _MESSAGE_REPLIES:
            run = self._message_run()
            if run is not None:
                return run
        item = self.framer.next_item()
        if item is None:
            return NEED_DATA
        if self._slow_lines:
            self._slow_lines -= 1
        self.last_line = item
        if isinstance(item, FrameError):
            if self.banner is None:
                raise GreetingTooLong(f"a greeting line over {self.max_line} bytes "
                                      "(the limit: --max-line BYTES raises it)")
            return Untagged("", problem=f"a reply line over {self.max_line} bytes was "
                                        "skipped (the limit: --max-line BYTES raises it)")
        if self.banner is None:
            return self._greeting(item)
        return self.parse_reply_line(item)

    def events(self):
        """Every event that the bytes received so far make complete."""
        while True:
            event = self.next_event()
            if event is NEED_DATA:
                return
            yield event

    def _message_run(self) -> MessageBatch | None:
        """The message lines waiting, read in one pass, when they are all plain ones."""
        if self._slow_lines or self.banner is None:
            return None
        region = self.framer.complete_lines(_RUN_BYTES)
        if region is None:
            return None
        buf, start, stop = region
        if not _RUN_START.match(buf, start):
            return None
        columns = self._plain_columns(buf, start, stop)
        if columns is None:
            # most often the run ends inside the region (the final line, the next
            # mailbox): try the lines before the first that does not begin like a message
            odd = _RUN_END.search(buf, start, stop - 1)
            if odd is not None:
                stop = odd.end()
                columns = self._plain_columns(buf, start, stop)
        # Lines not taken as a run are read one by one, and not looked at again here:
        # each region is scanned at most twice.
        if columns is None:
            self._slow_lines = buf.count(b"\n", start, stop)
            return None
        uids, guids, flags = columns
        if len(uids) < _RUN_MIN_LINES:
            self._slow_lines = len(uids)
            return None
        self.last_line = _Run(bytes(buf[start:stop]))
        self.framer.skip_to(stop)
        return MessageBatch(uids, guids, flags)

    @staticmethod
    def wire_pieces(raw: bytes) -> list[bytes]:
        """A run's bytes as the lines the one-by-one path hands the wire view."""
        return [line + b"\r\n" for line in raw[:-2].split(b"\r\n")]

    def _plain_columns(self, buf: bytes, start: int, stop: int):
        """(uids, guids, flags) of the lines in buf[start:stop] when every one is a plain
        message line, else None."""
        text = buf[start:stop].decode("utf-8", "surrogateescape")
        if _RUN_LINE.sub("", text):        # a match is one whole line: some line is not
            return None
        # Every line is `* uid guid (flags)\r\n`, no parenthesis or NUL among the flags.
        # Where no flag list holds a space (none or one flag: the usual case), one split
        # gives four fields a line.
        lines = buf.count(b"\n", start, stop)
        fields = text.split()
        if len(fields) == 4 * lines:
            return (list(map(int, fields[1::4])), fields[2::4],
                    list(map(self._flag_lists.__getitem__, fields[3::4])))
        # Otherwise three splits over the whole region cut it into fields.
        fields = text[2:-3].replace(")\r\n* ", "\x00").replace(" (", "\x00").split("\x00")
        ids = " ".join(fields[0::2]).split(" ")
        return (list(map(int, ids[0::2])), ids[1::2],
                list(map(self._flag_sets.__getitem__, fields[1::2])))

    # ------------------------------------------------------------------ greeting

    def _greeting(self, line):
        text = _text(line)
        if not is_banner_end(text):
            self._greeting_lines += 1
            if self._greeting_lines > self.max_greeting_lines:
                raise GreetingTooLong(f"over {self.max_greeting_lines} lines before the "
                                      "server's banner (the limit: --max-greeting-lines N "
                                      "raises it)")
            if text.startswith("* "):
                self.capabilities.append(text[2:])
                return Untagged(text)
            return Untagged(text, problem="not a greeting line")
        dialect, version = detect_dialect(text)
        self.dialect = self.forced_dialect or dialect
        self.banner = Banner(text, self.dialect, version, tuple(self.capabilities))
        return self.banner

    # ------------------------------------------------------------------ replies

    def parse_reply_line(self, line):
        first = line if isinstance(line, bytes) else line.parts[0]
        if first[:2] == b"* " and first is line and self.reading in _MESSAGE_REPLIES:
            message = _fast_message(line)
            if message is not None:
                return message
        if first.split(b" ", 1)[0] in _FINAL_WORDS:
            return self._final(line)
        if first[:1] == b"+":
            return Continuation(decode(first[2:]))
        if first[:1] != b"*":
            return Untagged(_text(line), problem="not a reply line")
        try:
            return self._untagged(line)
        except (ProtocolError, ValueError, IndexError, TypeError) as exc:
            # a list or literal where a number or name belongs: reported, never raised
            return Untagged(_text(line), problem=f"unreadable {self.in_flight or ''} line: {exc}")

    def _untagged(self, line):
        reading = self.reading
        tokens = tokenize(line)
        stars = tokens[0].value if tokens and tokens[0].kind == ATOM else b""
        if reading in ("mailboxes", "messages") and stars == b"**":
            return _mailbox_line(_values(tokens[1:]))
        if stars == b"***" and reading == "mailboxes":
            return Subscription(_one(_values(tokens[1:])))
        if stars == b"****" and reading == "mailboxes":
            return _sieve_line(_values(tokens[1:]))
        if stars != b"*" or reading is None:
            return Untagged(_text(line))
        values = _values(tokens[1:])
        if reading in ("mailboxes", "messages"):
            return _message(values)
        if reading == "reserve":
            return Reserved(_one(values).lower())
        if reading == "lsub":
            return Subscription(_one(values))
        if reading == "sieve":
            return _sieve_line(values)
        if reading == "list":
            uniqueid, name, acl = values
            return Mailbox(name=name, uniqueid=uniqueid, acl=acl, uidlast=None)
        if reading == "contents":
            uid, internaldate, return_path, flags, body = values
            return ContentsItem(int(uid), int(internaldate), return_path, tuple(flags),
                                body if isinstance(body, bytes) else body.encode())
        return Untagged(_text(line))

    def _final(self, line):
        command, self.in_flight, self.reading = self.in_flight or "", None, None
        self._slow_lines = 0
        if isinstance(line, bytes):
            status, _, text = decode(line).partition(" ")
            literals: list[bytes] = []
        else:
            status, _, text = decode(line.parts[0]).partition(" ")
            literals = line.literals
            if status != "OK":      # a NO that quotes a name as a literal: part of its text
                text = decode(b"".join(line.parts)).partition(" ")[2]
            text = text.rstrip()
        data = None
        code = None
        words = text.split()
        try:
            if status == "OK":
                data = _ok_data(command, words, literals, self.dialect)
            if words and (words[0].startswith("IMAP_") or words[0] in ("[CONTINUE]", "[RESTART]")):
                code = words[0].strip("[]")
        except (ValueError, IndexError):
            data = None
        return Done(status, text, command, data, code)


def _ok_data(command: str, words: list[str], literals: list[bytes], dialect) -> object:
    if command == "SELECT" and len(words) >= 3:
        return SelectInfo(words[0], int(words[1]), int(words[2]),
                          int(words[3]) if len(words) > 3 else None)
    if command in ("STATUS", "QUOTA", "USER_ALL") and words and words[0].isdigit():
        return int(words[0])
    if command == "INFO" and len(words) >= 2:
        flags = " ".join(words[2:]).strip("()").split()
        return {"uidvalidity": int(words[0]), "uidlast": int(words[1]), "flags": flags}
    if command == "GET_SIEVE" and literals:
        return literals[0]
    return None


# --------------------------------------------------------------------------- line readers

def _text(line) -> str:
    if isinstance(line, bytes):
        return decode(line)
    out = decode(line.parts[0])
    for header, lit, rest in zip(line.headers, line.literals, line.parts[2::2]):
        out += decode(header) + "<%d bytes>" % len(lit) + decode(rest)
    return out


def _fast_message(line: bytes) -> Message | None:
    """``* uid guid (flags)``: the line a million-message reply is made of, read without
    the general tokenizer."""
    parts = line.split(b" ", 3)
    if len(parts) != 4:
        return None
    uid, guid, flags = parts[1], parts[2], parts[3]
    if not uid.isdigit() or flags[:1] != b"(" or flags[-1:] != b")" or b'"' in flags:
        return None
    inner = flags[1:-1]
    return Message(int(uid), guid.decode("ascii", "replace"),
                   tuple(inner.decode("utf-8", "surrogateescape").split(" ")) if inner else ())


def _values(tokens: list[Token]) -> list:
    """Space-separated values: strings for atoms/strings, bytes for literals, lists for
    parenthesised lists."""
    values: list = []
    stack = [values]
    for token in tokens:
        kind = token.kind
        if kind == SP:
            continue
        if kind == LPAREN:
            inner: list = []
            stack[-1].append(inner)
            stack.append(inner)
        elif kind == RPAREN:
            if len(stack) == 1:
                raise ProtocolError("')' closes nothing")
            stack.pop()
        elif kind == LITERAL:
            stack[-1].append(token.value)
        else:
            stack[-1].append(decode(token.value))
    if len(stack) != 1:
        raise ProtocolError("unclosed '('")
    return values


def _as_text(value) -> str:
    if isinstance(value, bytes):
        return decode(value)
    if isinstance(value, list):
        raise ProtocolError("a list where a value belongs")
    return value


def _one(values: list) -> str:
    if len(values) < 1:
        raise ProtocolError("value missing")
    return _as_text(values[0])


def _mailbox_line(values: list) -> Mailbox:
    if len(values) not in (5, 6):
        raise ProtocolError("a mailbox line has 5 or 6 fields")
    uniqueid, name, acl = (_as_text(v) for v in values[:3])
    return Mailbox(name=name, uniqueid=uniqueid, acl=acl, uidlast=int(values[3]),
                   seen_lastchange=int(values[4]),
                   last_recent_uid=int(values[5]) if len(values) == 6 else None)


def _message(values: list) -> Message:
    if len(values) != 3 or not isinstance(values[2], list):
        raise ProtocolError("a message line is: uid guid (flags)")
    return Message(int(values[0]), _as_text(values[1]), tuple(_as_text(f) for f in values[2]))


def _sieve_line(values: list) -> SieveScript:
    if len(values) not in (2, 3) or (len(values) == 3 and values[2] != "*"):
        raise ProtocolError("a sieve line is: name mtime [*]")
    return SieveScript(_as_text(values[0]), int(values[1]), len(values) == 3)
