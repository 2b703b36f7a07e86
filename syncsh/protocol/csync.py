"""The client end of the modern dlist protocol (Cyrus 2.4 … 3.x), sans-IO.

Same shape as legacy.ClientConnection: ``send`` a command, ``receive_data``, pull events.
Data lines become the shared model (MAILBOX → Mailbox, RECORD → Message, LSUB →
Subscription, SIEVE → SieveScript) or small events of their own (Quota, Seen, Missing);
anything else arrives as a DlistLine.
"""

from __future__ import annotations

from operator import itemgetter

from syncsh.errors import ProtocolError
from syncsh.model import FlagSets, Mailbox, Message, MessageBatch, SieveScript
from syncsh.protocol import dlist
from syncsh.protocol.dlist_values import KV, as_int
from syncsh.protocol.csync_events import DlistLine, MailboxEnd, Missing, Quota, Seen
from syncsh.protocol.events import NEED_DATA, Continuation, Done, Subscription, Untagged


def text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def mailbox_from_kv(kv: KV) -> Mailbox:
    fields = KV((k, v) for k, v in kv.items() if k != "RECORD")
    return Mailbox(name=text(kv.get("MBOXNAME")), uniqueid=text(kv.get("UNIQUEID")),
                   acl=text(kv.get("ACL")), uidlast=as_int(kv.get("LAST_UID")),
                   uidvalidity=as_int(kv.get("UIDVALIDITY")),
                   last_appenddate=as_int(kv.get("LAST_APPENDDATE")),
                   highestmodseq=as_int(kv.get("HIGHESTMODSEQ")),
                   sync_crc=as_int(kv.get("SYNC_CRC")),
                   sync_crc_annot=as_int(kv.get("SYNC_CRC_ANNOT")),
                   last_recent_uid=as_int(kv.get("RECENTUID")), fields=fields)


def message_from_record(kv: KV) -> Message:
    annotations = tuple((text(a.get("ENTRY")), text(a.get("USERID")), text(a.get("MODSEQ")),
                         a.get("VALUE") if isinstance(a.get("VALUE"), bytes) else text(a.get("VALUE")))
                        for a in kv.get("ANNOTATIONS") or () if isinstance(a, dict))
    flags = kv.get("FLAGS") or ()
    return Message(uid=as_int(kv.get("UID"), 0), guid=text(kv.get("GUID")),
                   flags=tuple(text(f) for f in flags) if isinstance(flags, list) else (),
                   internaldate=as_int(kv.get("INTERNALDATE")),
                   last_updated=as_int(kv.get("LAST_UPDATED")), size=as_int(kv.get("SIZE")),
                   modseq=as_int(kv.get("MODSEQ")), annotations=annotations)


def events_of_line(name: str, value) -> list:
    """The model events one complete data line stands for."""
    if name == "MAILBOX" and isinstance(value, dict):
        box = mailbox_from_kv(value)
        records = value.get("RECORD")
        out: list = [box]
        if isinstance(records, list) and records:
            out += [message_from_record(r) for r in records if isinstance(r, dict)]
        return out
    if name == "QUOTA" and isinstance(value, dict):
        resources = tuple((k, as_int(v)) for k, v in value.items()
                          if k not in ("ROOT", "LIMIT", "MODSEQ"))
        return [Quota(text(value.get("ROOT")), as_int(value.get("LIMIT")), resources,
                      as_int(value.get("MODSEQ")))]
    if name == "LSUB" and isinstance(value, list):
        return [Subscription(text(v)) for v in value]
    if name == "SEEN" and isinstance(value, dict):
        return [Seen(text(value.get("UNIQUEID")), as_int(value.get("LASTREAD"), 0),
                     as_int(value.get("LASTUID"), 0), as_int(value.get("LASTCHANGE"), 0),
                     text(value.get("SEENUIDS")))]
    if name == "SIEVE" and isinstance(value, dict) and "FILENAME" in value:
        content = value.get("CONTENT")
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        return [SieveScript(text(value.get("FILENAME")), as_int(value.get("LAST_UPDATE"), 0),
                            text(value.get("ISACTIVE")) == "1",
                            content if isinstance(content, bytes) else None)]
    if name == "MISSING" and isinstance(value, list):
        return [Missing(tuple(text(v) for v in value))]
    return [DlistLine(name, value)]


class CsyncConnection:
    dialect = "csync"

    def __init__(self, banner=None, leftover: bytes = b"", *, max_line: int = dlist.MAX_REPLY_LINE) -> None:
        self.reader = dlist.Reader(max_line=max_line)
        self.banner = banner
        self.in_flight: str | None = None
        self.queue: list = []
        self.last_raw = b""
        self._box: str | None = None
        self._flag_sets = FlagSets(lambda text: tuple(text.split()))
        self._run_lead = 0
        self._held_raw = b""             # bytes read that no event has shown yet
        if leftover:
            self.reader.feed(leftover)

    def send(self, line: str | bytes) -> bytes:
        if self.in_flight is not None:
            raise ProtocolError(f"{self.in_flight} is still waiting for its reply")
        data = line if isinstance(line, bytes) else \
            line.rstrip("\r\n").encode("utf-8", "surrogateescape")
        words = data[:200].split(None, 2)
        self.in_flight = b" ".join(words[:2]).decode("ascii", "replace").upper() or "?"
        return data + b"\r\n"

    @property
    def batch(self) -> bool:
        """RECORD lists may come as MessageBatch runs."""
        return self.reader.runs

    @batch.setter
    def batch(self, value: bool) -> None:
        self.reader.runs = value

    def receive_data(self, data: bytes) -> None:
        self.reader.feed(data)

    def next_event(self):
        if self.queue:
            self.last_raw = b""               # the line they came from was shown with the first
            return self.queue.pop(0)
        event = self.reader.next_event()
        if event is NEED_DATA:
            return NEED_DATA
        held, self._held_raw = self._held_raw, b""
        self.last_raw = held + self.reader.take_raw()
        if isinstance(event, dlist.RecordRun):
            self._run_lead = len(held) + event.lead
            return self._batch(event.rows)
        if isinstance(event, dlist.Record):
            return message_from_record(event.value)
        if isinstance(event, dlist.RecordsStart):
            box = mailbox_from_kv(event.fields)
            self._box = box.name
            return box
        if isinstance(event, dlist.RecordsEnd):
            # the mailbox ends with its line: these bytes are shown with the line's end
            self._held_raw = self.last_raw
            return self.next_event()
        if isinstance(event, dlist.Line):
            if event.name == "MAILBOX" and isinstance(event.value, dict) and \
                    "RECORD" in event.value and self._box is not None:
                name, self._box = self._box, None     # header and records already went out
                return MailboxEnd(name)
            events = events_of_line(event.name, event.value)
            self.queue = events[1:]
            return events[0]
        return self._text(event)

    def _batch(self, rows: list[tuple[str, ...]]) -> MessageBatch:
        """The model's columns of a RecordRun (as message_from_record reads one record)."""
        def numbers(group):
            return list(map(int, map(itemgetter(group), rows)))
        return MessageBatch(numbers(1), list(map(itemgetter(7), rows)),
                            list(map(self._flag_sets.__getitem__, map(itemgetter(4), rows))),
                            internaldates=numbers(5), last_updated=numbers(3), sizes=numbers(6),
                            modseqs=numbers(2),
                            annotations=list(map(tuple, map(dlist.RUN_ANNOTATION.findall,
                                                             map(itemgetter(8), rows)))))

    def wire_pieces(self, raw: bytes) -> list[bytes]:
        """The last run's bytes as the records the one-by-one path hands the wire view: each
        with the space before it, the first with whatever was read before it (a run's quoted
        strings hold no parenthesis, so splitting at each record's start is exact)."""
        lead, records = raw[:self._run_lead], raw[self._run_lead:]
        pieces = [b" %(UID " + record for record in records.split(b" %(UID ")[1:]]
        pieces[0] = lead + pieces[0]
        return pieces

    def _text(self, event: dlist.Text):
        line = event.text
        if line.startswith("* Fatal error"):
            return Untagged(line, problem="fatal error on the server (it closes the connection)")
        if event.problem:
            return Untagged(line, problem=event.problem)
        word, _, rest = line.partition(" ")
        if word in ("OK", "NO", "BAD"):
            command, self.in_flight = self.in_flight or "", None
            code = rest.split(" ", 1)[0] if rest.startswith("IMAP_") else None
            return Done(word, rest, command, None, code)
        if word == "+":
            return Continuation(rest)
        if line.startswith("* "):
            return Untagged(line)
        return Untagged(line, problem="not a reply line")
