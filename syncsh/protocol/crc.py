"""SYNC_CRC and SYNC_CRC_ANNOT of a mailbox, computed from its records the way Cyrus 3.6
does (csync-protocol.md section 8), so a damaged index shows as a disagreement."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from syncsh.model import Message

SYSTEM = {"\\deleted", "\\answered", "\\flagged", "\\draft", "\\seen"}
VIRTUAL = "/vendor/cmu/cyrus-imapd/"


def is_expunged(message: Message) -> bool:
    return any(f.lower() == "\\expunged" for f in message.flags)


def flag_crc(flags) -> int:
    crc = 0
    for flag in flags:
        lowered = flag.lower()
        if flag.startswith("\\"):
            if lowered in SYSTEM:
                crc ^= zlib.crc32(lowered.encode())
        else:
            crc ^= zlib.crc32(lowered.encode("utf-8", "surrogateescape"))
    return crc


def record_crc(m: Message) -> int:
    text = "%u %u %d (%u) %d %s" % (m.uid, m.modseq or 0, m.last_updated or 0, flag_crc(m.flags),
                                    m.internaldate or 0, m.guid.lower())
    return zlib.crc32(text.encode())


def annotation_crc(uid: int, entry: str, userid: str, value) -> int:
    if entry == VIRTUAL + "thrid" and isinstance(value, str):
        value = value.lstrip("0") or "0"      # 3.6 formats thrid with %llx
    data = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogateescape")
    return zlib.crc32(b"%d %s %s " % (uid, entry.encode(), userid.encode()) + data)


def sync_crc(messages) -> int:
    crc = 0
    for m in messages:
        if not is_expunged(m):
            crc ^= record_crc(m)
    return crc


def sync_crc_annot(messages) -> int:
    crc = 12345678
    for m in messages:
        if is_expunged(m):
            continue
        for entry, userid, _, value in m.annotations:
            if entry.startswith(VIRTUAL) and str(value) in ("0", ""):
                continue
            crc ^= annotation_crc(m.uid, entry, userid, value)
    return crc


def crcs_agree(ours: int, theirs: int | None) -> bool | None:
    """True/False when both are known; None when the server's is 0 ("not known")."""
    if not theirs:
        return None
    return ours == theirs


class CrcCheck:
    """Running CRCs of one mailbox's records as they stream past; at the end, whether the
    server's own SYNC_CRC / SYNC_CRC_ANNOT agree."""

    def __init__(self, server_crc: int | None, server_annot: int | None) -> None:
        self.server_crc = server_crc
        self.server_annot = server_annot
        self.crc = 0
        self.annot = 12345678
        self.records = 0

    def add(self, message: Message) -> None:
        self.records += 1
        if is_expunged(message):
            return
        self.crc ^= record_crc(message)
        for entry, userid, _, value in message.annotations:
            if entry.startswith(VIRTUAL) and str(value) in ("0", ""):
                continue
            self.annot ^= annotation_crc(message.uid, entry, userid, value)

    def verdicts(self) -> list[tuple[str, int, int | None, bool | None]]:
        """(name, computed, server's, agree?) for both CRCs; agree is None when the
        server's value is 0 ("not known")."""
        return [("SYNC_CRC", self.crc, self.server_crc, crcs_agree(self.crc, self.server_crc)),
                ("SYNC_CRC_ANNOT", self.annot, self.server_annot,
                 crcs_agree(self.annot, self.server_annot))]


@dataclass(frozen=True, slots=True)
class CrcVerdict:
    """One mailbox's SYNC_CRC or SYNC_CRC_ANNOT: the server's against the one computed from
    the records it sent.  agree is None when the server's is 0 ("not known")."""
    mailbox: str
    name: str
    server: int | None
    computed: int
    agree: bool | None


def is_full_listing(line) -> bool:
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    return text.lstrip().upper().startswith("GET FULLMAILBOX")


def checked(line, events):
    """The reply to ``line`` with CrcVerdict events added after each mailbox's records,
    when the line is a GET FULLMAILBOX (whatever the output format: the check is not a
    renderer's)."""
    if not is_full_listing(line):
        yield from events
        return
    from syncsh.model import Mailbox, MessageBatch
    box, check = None, None
    for event in events:
        if isinstance(event, Mailbox) or type(event).__name__ in ("MailboxEnd", "Done"):
            if check is not None:
                yield from verdicts_of(box, check)
            box, check = None, None
            if isinstance(event, Mailbox):
                box, check = event, CrcCheck(event.sync_crc, event.sync_crc_annot)
        elif check is not None and isinstance(event, MessageBatch):
            for message in event:
                check.add(message)
        elif check is not None and isinstance(event, Message):
            check.add(event)
        yield event


def verdicts_of(box, check: CrcCheck):
    for name, ours, theirs, agree in check.verdicts():
        yield CrcVerdict(box.name, name, theirs, ours, agree)
