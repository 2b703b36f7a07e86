"""Reading the dlist value syntax of the modern protocol (csync-protocol.md section 3),
sans-IO; the values and their writing are in dlist_values.py.

:class:`Reader` parses a stream of server lines incrementally: it never needs a whole
line in memory, and inside ``* MAILBOX %(… RECORD (…))`` it hands out each record as soon
as it is complete, so the first rows of a million-record ``GET FULLMAILBOX`` arrive before
the reply has ended.
"""

from __future__ import annotations

import re
from operator import itemgetter

from syncsh.errors import ProtocolError
from syncsh.protocol.dlist_values import KV, File, Flag
from syncsh.protocol.events import NEED_DATA
from syncsh.protocol.wire import MAX_REPLY_LINE

# the events it hands out (dlist_events.py), named here too: readers know them as dlist's
from syncsh.protocol.dlist_events import (Line, Record, RecordRun,  # noqa: F401
                                          RecordsEnd, RecordsStart, Text)


class _Frame:
    """A list or kvlist being read: what it holds so far, the key whose value comes next
    (a kvlist's), and whether its items go out one by one (a streamed RECORD list)."""
    __slots__ = ("container", "key", "streaming")

    def __init__(self, container, streaming: bool) -> None:
        self.container, self.key, self.streaming = container, None, streaming


# What holding one parsed value costs, in bytes of the line limit: a line of tiny tokens
# would otherwise take many times its size in memory (a str and a list slot each).
VALUE_COST = 32

_WHOLE = itemgetter(0)

_TOKEN = re.compile(
    rb'(?P<ws>[ \t]+)|(?P<nl>\r?\n)|(?P<kv>%\()|(?P<open>\()|(?P<close>\))'
    rb'|(?P<file>%\{(?P<part>[^ }\r\n]+) (?P<guid>[^ }\r\n]+) (?P<fsize>\d+)\}\r?\n)'
    rb'|(?P<lit>\{(?P<lsize>\d+)\+?\}\r?\n)'
    rb'|"(?P<str>(?:[^"\\\r\n]|\\.)*)"|(?P<atom>[^ \t\r\n()"]+)')
_UNQUOTE = re.compile(rb"\\(.)")
_LITERAL_HEADS = (b"{", b"%{")
_LINE_HEAD = re.compile(rb"\* ([^ \r\n()\"{%]+) ")
# A line whose value is a kvlist of atoms and plain quoted strings only (GET USER's MAILBOX
# lines, most of a GET reply): read whole with two expressions instead of token by token.
_FLAT_TOKEN = rb'(?:"[^"\\\r\n%]*"|[^ \t"(){}%\\\r\n]+)'
_FLAT_LINE = re.compile(rb"%\((" + _FLAT_TOKEN + rb"(?: " + _FLAT_TOKEN + rb")*)\)[ \t]*\r?\n")
_FLAT_ITEM = re.compile(rb'"([^"]*)"|([^ ]+)')
_LINE_END = re.compile(rb"[ \t]*\r?\n")
# A RECORD kvlist in the form Cyrus prints it, read in one step (the general path below
# handles anything else: literals, unusual keys, quoted values with specials).
_FAST_RECORD = re.compile(
    rb"%\(UID (\d+) MODSEQ (\d+) LAST_UPDATED (\d+) FLAGS \(([^()\"{]*)\) INTERNALDATE (\d+) "
    rb"SIZE (\d+) GUID ([0-9a-fA-F]+)"
    rb"(?: ANNOTATIONS \(((?:%\(ENTRY [^ ()\"{]+ USERID (?:\"[^\"\\\r\n(){]*\"|[^ ()\"{]+) MODSEQ \d+"
    rb" VALUE (?:\"[^\"\\\r\n(){]*\"|[^ ()\"{]+)\) ?)*)\))?\)")
_FAST_ANNOT = re.compile(rb"%\(ENTRY ([^ ()\"{]+) USERID (\"[^\"]*\"|[^ ()\"{]+) MODSEQ (\d+) "
                         rb"VALUE (\"[^\"]*\"|[^ ()\"{]+)\)")


# Runs of records: the same form as _FAST_RECORD, each record with the one space before it
# (as the record-by-record path reads them; the list's first record, with no space before
# it, goes that path), taken from a region only when the records tile it exactly (the
# first group is the whole record).
_RUN_BYTES = 1 << 16
_RUN_MIN_RECORDS = 16
_RUN_RECORD = re.compile(
    r"( %\(UID ([0-9]+) MODSEQ ([0-9]+) LAST_UPDATED ([0-9]+) FLAGS \(([^()\"{]*)\) "
    r"INTERNALDATE ([0-9]+) SIZE ([0-9]+) GUID ([0-9a-fA-F]+)"
    r"(?: ANNOTATIONS \(((?:%\(ENTRY [^ ()\"{]+ USERID (?:\"[^\"\\\r\n(){]*\"|[^ ()\"{]+) "
    r"MODSEQ [0-9]+ VALUE (?:\"[^\"\\\r\n(){]*\"|[^ ()\"{]+)\) ?)*)\))?\))")
# The annotations of a record that _RUN_RECORD has already checked, each as the 4-tuple
# (entry, userid, modseq, value) the model holds: quotes dropped (quoted strings there hold
# no quote, backslash or parenthesis), so findall builds the tuples itself.
RUN_ANNOTATION = re.compile(r'%\(ENTRY ([^ ]+) USERID "?((?<=")[^"]*|[^ "()]*)"? MODSEQ ([0-9]+) '
                            r'VALUE "?((?<=")[^"]*|[^ "()]*)"?\)')


def _unquote(value: bytes) -> str:
    if value[:1] == b'"':
        value = value[1:-1]
    return value.decode("utf-8", "surrogateescape")


class Reader:
    """Feed bytes, pull events: Line, Text, RecordsStart, Record, RecordsEnd.

    Bounded on hostile input: a line (apart from the records it streams) or a single value
    longer than ``max_line`` is skipped to its end, never held; the buffer is a bytearray
    cut at its front only once half of it is read, and searches resume where they stopped,
    so time is linear in the input however it is cut into pieces."""

    def __init__(self, *, max_literal: int = 1 << 31, max_line: int = MAX_REPLY_LINE) -> None:
        self.buf = bytearray()
        self.pos = 0
        self.raw_start = 0            # where the bytes of the next event begin
        self.eof = False
        self.max_literal = max_literal
        self.max_line = max_line
        self.line_start = 0
        self._budget_start = 0        # the line's bytes since here count against max_line,
        self._exempt = 0              # but for its literals' bytes,
        self._held = 0                # and each value it holds costs VALUE_COST more
        self._scanned = 0             # no line end between pos and here
        self._discarding = False      # dropping the rest of a refused line
        self.runs = False             # RECORD lists may come as RecordRun events
        self._reset_line()            # (and _slow_records: records to read one by one)

    def _reset_line(self) -> None:
        self.name: str | None = None      # the line's NAME once read
        self.stack: list[_Frame] = []      # the lists and kvlists open, innermost last
        self.value = NEED_DATA             # the top-level value once complete
        self.in_line = False
        self._slow_records = 0

    def feed(self, data: bytes) -> None:
        if not data:
            self.eof = True
            return
        keep = min(self.raw_start, self.pos)
        if keep and keep * 2 >= len(self.buf):
            del self.buf[:keep]             # (amortised: at most once per half read)
            self.pos -= keep
            self.raw_start -= keep
            self.line_start -= keep
            self._budget_start -= keep
            self._scanned = max(0, self._scanned - keep)
        self.buf += data

    def take_raw(self) -> bytes:
        """The bytes the events since the last call were read from (the raw wire view)."""
        raw = bytes(self.buf[self.raw_start:self.pos])
        self.raw_start = self.pos
        return raw

    @property
    def pending(self) -> int:
        return len(self.buf) - self.pos

    def events(self):
        while True:
            event = self.next_event()
            if event is NEED_DATA:
                return
            yield event

    def next_event(self):
        if self._discarding and not self._discard():
            return NEED_DATA
        if not self.in_line:
            return self._line_start()
        return self._value_step()

    def _line_end_ahead(self) -> int:
        """Where the current physical line ends, or -1; never searching a byte twice."""
        end = self.buf.find(b"\n", max(self.pos, self._scanned))
        if end < 0:
            self._scanned = len(self.buf)
        return end

    def _discard(self) -> bool:
        """Drop the refused line's bytes as they come; True once its end is passed."""
        end = self._line_end_ahead()
        self.pos = len(self.buf) if end < 0 else end + 1
        self.raw_start = self.pos           # (its bytes are not shown, nor kept)
        if end < 0:
            return False
        self._discarding = False
        return True

    def _budget_from(self, pos: int) -> None:
        """The line's budget starts again here (a new line, a streamed record)."""
        self._budget_start = pos
        self._exempt = self._held = 0

    def _used(self, upto: int) -> int:
        """What the line costs so far: its bytes but literals', and its values held."""
        return upto - self._budget_start - self._exempt + VALUE_COST * self._held

    def _too_long(self) -> bool:
        """Whether the line, waiting for more bytes, already holds more than max_line
        (apart from the records it streamed)."""
        return self._used(len(self.buf)) > self.max_line

    def _refuse_line(self):
        """A line over max_line: skipped to its end, said in one Text."""
        self._reset_line()
        self._discarding = True
        self._discard()
        return Text("", problem=f"a reply line over {self.max_line} bytes was skipped "
                                "(the limit: --max-line BYTES raises it)")

    # ------------------------------------------------------------------ lines

    def _line_start(self):
        buf, pos = self.buf, self.pos
        if len(buf) - pos < 2:
            if self.eof and pos < len(buf):
                return self._text_line()
            return NEED_DATA
        if buf[pos:pos + 2] != b"* ":
            return self._text_line()
        self.line_start = pos
        self._budget_from(pos)
        # (a NAME is short: the head is looked for in the line's first KiB only)
        match = _LINE_HEAD.match(buf, pos, min(len(buf), pos + 1024))
        if match is None:
            return self._text_line()
        self.name = match.group(1).decode("ascii", "replace")
        self.in_line = True
        self.pos = match.end()
        flat = self._flat_line()
        if flat is not None:
            return flat
        return self._value_step()

    def _flat_line(self):
        """The line's value read at once when it is a flat kvlist (None: read it token by
        token): the same Line the token path gives, within the same line limit."""
        match = _FLAT_LINE.match(self.buf, self.pos)
        if match is None:
            return None
        items = _FLAT_ITEM.findall(match.group(1))
        if len(items) % 2 or match.end() - self.line_start + VALUE_COST * (
                len(items) // 2 + 1) > self.max_line:
            return None
        kv = KV()
        for i in range(0, len(items), 2):
            key_quoted, key = items[i]
            if key_quoted or not key:
                return None                      # a key is an atom
            quoted, atom = items[i + 1]
            kv[key.decode("utf-8", "surrogateescape")] = _flat_value(quoted, atom)
        self.pos = match.end()
        event = Line(self.name, kv)
        self._reset_line()
        return event

    def _text_line(self):
        self.line_start = self.pos
        self._budget_from(self.pos)
        end = self._line_end_ahead()
        if end < 0:
            if not self.eof:
                return self._refuse_line() if self._too_long() else NEED_DATA
            end = len(self.buf)
        line = self.buf[self.pos:end].rstrip(b"\r")
        self.pos = end + 1
        return Text(line.decode("utf-8", "surrogateescape"))

    def _bad_line(self, reason: str):
        """Skip to the end of the physical line and say what was wrong."""
        start = self.line_start
        text = bytes(self.buf[start:start + 300]).split(b"\n", 1)[0].rstrip(b"\r")
        self._reset_line()
        self._discarding = True             # the rest of the line, wherever it ends
        self._discard()
        return Text(text.decode("utf-8", "replace")[:200], problem=reason)

    # ------------------------------------------------------------------ values

    def _value_step(self):
        # one token a turn (a loop: many small tokens cost no recursion; each turn re-checks
        # the line's budget), until a token completes an event or the bytes run out
        while True:
            if self.value is not NEED_DATA:
                return self._line_end()
            if self.stack and self.stack[-1].streaming:
                event = self._streamed_records()
                if event is not None:
                    return event
            if self._used(self.pos) > self.max_line:      # read, and not streamed records
                return self._refuse_line()
            match = self._token()
            if match.__class__ is not re.Match:
                return match                 # NEED_DATA, or the Text of a skipped line
            event = _TOKEN_ACTIONS[match.lastgroup](self, match)
            if event is not None:
                return event

    def _streamed_records(self):
        """Records taken whole by the fast expressions (None: the next goes token by token)."""
        run = self._record_run() if self.runs and not self._slow_records else None
        return run if run is not None else self._fast_record()

    def _token(self):
        """The match of the next whole token; else NEED_DATA while more bytes may complete
        it, or the Text of a line that cannot be read (or is over the limit)."""
        buf, pos = self.buf, self.pos
        if buf.startswith(_LITERAL_HEADS, pos):
            # a literal's header ends with its line end: until that has come, a header
            # cut short (even between its CR and LF) would read as an atom
            if not self.eof and buf.find(b"\n", pos, pos + 300) < 0 and len(buf) - pos < 300:
                return NEED_DATA
        match = _TOKEN.match(buf, pos)
        if match is None:
            # a quoted string or a literal header cut by the end of the chunk
            if pos >= len(buf) or (not self.eof and self._line_end_ahead() < 0):
                return self._refuse_line() if self._too_long() else NEED_DATA
            return self._bad_line("unreadable value")
        if match.end() == len(buf) and match.lastgroup in ("atom", "ws") and not self.eof:
            # the token may go on in the next chunk (unless it is already too long)
            return self._refuse_line() if self._too_long() else NEED_DATA
        return match

    def _skip_space(self, match):
        self.pos = match.end()

    def _line_break(self, match):
        if not self.stack:
            return self._bad_line("value missing")
        self.pos = match.end()           # the server's reader skips line ends inside lists

    def _literal(self, match):
        size = int(match.group("lsize") or match.group("fsize"))
        if size > self.max_literal:
            return self._bad_line("literal too large")
        start = match.end()
        if len(self.buf) - start < size:
            return self._bad_line("literal cut short") if self.eof else NEED_DATA
        data = bytes(self.buf[start:start + size])
        self.pos = start + size
        self._exempt += size                 # (a literal is bounded by its own limit)
        if match.lastgroup == "file":
            data = File(match.group("part").decode(), match.group("guid").decode(), data)
        return self._add(data)

    def _open_kvlist(self, match):
        self.pos = match.end()
        self._push(KV())

    def _open_list(self, match):
        self.pos = match.end()
        streaming = self._is_record_list()
        self._push([], streaming)
        return RecordsStart(self.name, self.stack[0].container) if streaming else None

    def _close_list(self, match):
        self.pos = match.end()
        if not self.stack:
            return self._bad_line("')' closes nothing")
        frame = self.stack.pop()
        if frame.key is not None:
            return self._bad_line(f"key {frame.key} has no value")
        added = self._add(frame.container, popped_streaming=frame.streaming)
        return RecordsEnd(self.name) if frame.streaming else added

    def _quoted(self, match):
        self.pos = match.end()
        return self._add(_UNQUOTE.sub(rb"\1", match.group("str")).decode(
            "utf-8", "surrogateescape"))

    def _atom(self, match):
        self.pos = match.end()
        return self._add(_flat_value(b"", match.group("atom")))    # (an atom is never empty)

    def _push(self, container, streaming: bool = False) -> None:
        self._held += 1                   # (a deep nest costs memory like many values)
        self.stack.append(_Frame(container, streaming))

    def _is_record_list(self) -> bool:
        return (len(self.stack) == 1 and self.name == "MAILBOX"
                and isinstance(self.stack[0].container, KV) and self.stack[0].key == "RECORD")

    def _add(self, value, popped_streaming: bool = False):
        if not self.stack:
            self.value = value
            return None
        frame = self.stack[-1]
        container = frame.container
        if frame.streaming:               # a record of a streamed RECORD list
            if self._slow_records:
                self._slow_records -= 1
            self._budget_from(self.pos)            # (streamed records are not held)
            return Record(value) if isinstance(value, KV) else None
        self._held += 1
        if isinstance(container, KV):
            if frame.key is None:
                frame.key = value if isinstance(value, str) else str(value)
            else:
                # a streamed RECORD list's records went out one by one
                container[frame.key] = [] if popped_streaming else value
                frame.key = None
        else:
            container.append(value)
        return None

    def _fast_record(self):
        match = _FAST_RECORD.match(self.buf, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        uid, modseq, updated, flags, internaldate, size, guid, annots = match.groups()
        record = KV(UID=uid.decode(), MODSEQ=modseq.decode(), LAST_UPDATED=updated.decode(),
                    FLAGS=[Flag(f) for f in flags.decode("utf-8", "surrogateescape").split()],
                    INTERNALDATE=internaldate.decode(), SIZE=size.decode(), GUID=guid.decode())
        if annots is not None:
            record["ANNOTATIONS"] = [
                KV(ENTRY=_unquote(e), USERID=_unquote(u), MODSEQ=m.decode(), VALUE=_unquote(v))
                for e, u, m, v in _FAST_ANNOT.findall(annots)]
        self._budget_from(self.pos)
        return Record(record)

    def _record_run(self) -> RecordRun | None:
        buf, pos = self.buf, self.pos
        if buf[pos:pos + 7] != b" %(UID ":
            return None
        stop = buf.rfind(b" %(UID ", pos + 1, pos + _RUN_BYTES)   # the last record may be cut
        if stop <= pos:
            return None
        count = buf.count(b"%(UID ", pos, stop)
        if count < _RUN_MIN_RECORDS:
            return None
        text = buf[pos:stop].decode("utf-8", "surrogateescape")
        rows = _RUN_RECORD.findall(text)
        if sum(map(len, map(_WHOLE, rows))) != len(text):
            self._slow_records = count      # something else among them: the careful path
            return None
        lead = pos - self.raw_start
        self.pos = stop
        self._budget_from(stop)
        return RecordRun(rows, lead)

    def _line_end(self):
        match = _LINE_END.match(self.buf, self.pos)
        if match is None:
            if len(self.buf) - self.pos < 2 and not self.eof:
                return NEED_DATA
            return self._bad_line("extra data after the value")
        self.pos = match.end()
        event = Line(self.name, self.value)
        self._reset_line()
        return event


# What each kind of token does (a table, looked up once a token, in place of a chain of
# comparisons): it moves past the token and returns the event it completes, or None.
_TOKEN_ACTIONS = {"ws": Reader._skip_space, "nl": Reader._line_break, "lit": Reader._literal,
                  "file": Reader._literal, "kv": Reader._open_kvlist, "open": Reader._open_list,
                  "close": Reader._close_list, "str": Reader._quoted, "atom": Reader._atom}


def _flat_value(quoted: bytes, atom: bytes):
    """A plain value as both paths make it: a quoted string's (no atom), NIL, a flag, text."""
    if not atom:
        return quoted.decode("utf-8", "surrogateescape")
    if atom == b"NIL":
        return None
    if atom[:1] in (b"\\", b"$"):
        return Flag(atom.decode("utf-8", "surrogateescape"))
    return atom.decode("utf-8", "surrogateescape")


def parse_value(data: bytes):
    """One complete dlist value (tests, the upload meta-command)."""
    reader = Reader()
    reader.feed(b"* X " + data + b"\r\n")
    reader.feed(b"")
    events = list(reader.events())
    if len(events) != 1 or not isinstance(events[0], Line):
        raise ProtocolError(f"not one dlist value: {data[:80]!r}")
    return events[0].value
