"""The one data model: what a replica holds, whichever dialect described it.

Codecs produce these objects, renderers print them, diff compares them, replicate plans
from them.  Fields a dialect does not carry stay None.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NULL_GUID_24 = "0" * 24
SYSTEM_FLAGS = ("\\deleted", "\\answered", "\\flagged", "\\draft")  # the order they are written in


def is_null_guid(guid: str | None) -> bool:
    return not guid or guid.strip("0") == ""


@dataclass(slots=True)
class Message:
    uid: int
    guid: str
    flags: tuple[str, ...] = ()
    internaldate: int | None = None
    sentdate: int | None = None
    last_updated: int | None = None
    size: int | None = None
    modseq: int | None = None
    annotations: tuple = ()       # modern dialect: (entry, userid, modseq, value) per annotation

    def flag_key(self) -> tuple[frozenset, tuple]:
        """Flags as the protocol compares them: system flags case-insensitively."""
        return canonical_flags(self.flags)


class MessageBatch:
    """A run of consecutive messages of one listing, held by column.

    Codecs read the lines of a big listing a region at a time and hand them on like this:
    one Python object per message costs more than the reading itself (issue 9).  Renderers
    and diff work on the columns; anything else iterates and gets ``Message`` objects.
    Columns a dialect does not carry are None.
    """

    __slots__ = ("uids", "guids", "flags", "internaldates", "last_updated", "sizes",
                 "modseqs", "annotations")

    def __init__(self, uids: list[int], guids: list[str], flags: list[tuple[str, ...]], *,
                 internaldates: list[int] | None = None, last_updated: list[int] | None = None,
                 sizes: list[int] | None = None, modseqs: list[int] | None = None,
                 annotations: list[tuple] | None = None) -> None:
        self.uids, self.guids, self.flags = uids, guids, flags
        self.internaldates, self.last_updated = internaldates, last_updated
        self.sizes, self.modseqs, self.annotations = sizes, modseqs, annotations

    @classmethod
    def of(cls, messages: list[Message]) -> "MessageBatch":
        """Columns of messages that came one by one (a short listing, an odd line)."""
        modern = bool(messages) and messages[0].modseq is not None
        column = (lambda name: [getattr(m, name) for m in messages]) if modern else \
            (lambda name: None)
        return cls([m.uid for m in messages], [m.guid for m in messages],
                   [m.flags for m in messages], internaldates=column("internaldate"),
                   last_updated=column("last_updated"), sizes=column("size"),
                   modseqs=column("modseq"), annotations=column("annotations"))

    def __len__(self) -> int:
        return len(self.uids)

    def __iter__(self):
        if self.modseqs is None:
            return map(Message, self.uids, self.guids, self.flags)
        none = [None] * len(self.uids)
        return map(Message, self.uids, self.guids, self.flags, self.internaldates or none,
                   none, self.last_updated or none, self.sizes or none, self.modseqs,
                   self.annotations or [()] * len(self.uids))

    def __getitem__(self, index: int) -> Message:
        def at(column):
            return column[index] if column is not None else None
        return Message(self.uids[index], self.guids[index], self.flags[index],
                       at(self.internaldates), None, at(self.last_updated), at(self.sizes),
                       at(self.modseqs), self.annotations[index] if self.annotations else ())

    def __repr__(self) -> str:
        span = f"UIDs {self.uids[0]}..{self.uids[-1]}" if self.uids else "empty"
        return f"<MessageBatch of {len(self)}: {span}>"


class FlagSets(dict):
    """Flag lists as read (``"\\Seen $Label"``) to tuples, each made once: a mailbox has
    a handful of distinct flag sets and a million messages share them."""

    def __init__(self, split) -> None:
        super().__init__()
        self._split = split

    def __missing__(self, text):
        if len(self) >= 4096:          # a hostile server's million distinct sets: stay small
            self.clear()
        value = self[text] = self._split(text)
        return value


def canonical_flags(flags) -> tuple[frozenset, tuple]:
    system = frozenset(f.lower() for f in flags if f.startswith("\\"))
    user = tuple(sorted(f for f in flags if not f.startswith("\\")))
    return system, user


def ordered_flags(flags) -> tuple[str, ...]:
    """System flags first in the original's order, lower case; user flags after, as given."""
    lowered = {f.lower() for f in flags if f.startswith("\\")}
    system = tuple(f for f in SYSTEM_FLAGS if f in lowered)
    user = tuple(dict.fromkeys(f for f in flags if not f.startswith("\\")))
    return system + user


@dataclass(slots=True)
class AclEntry:
    identifier: str
    rights: str


def parse_acl(acl: str) -> list[AclEntry]:
    """``id TAB rights TAB`` pairs, trailing TAB included (legacy spec 5.1)."""
    fields = acl.split("\t")
    if fields and fields[-1] == "":
        fields.pop()
    entries = [AclEntry(fields[i], fields[i + 1] if i + 1 < len(fields) else "")
               for i in range(0, len(fields), 2)]
    return entries


@dataclass(slots=True)
class SeenState:
    lastread: int = 0
    last_recent_uid: int = 0
    lastchange: int = 0
    seenuids: str = ""


@dataclass(slots=True)
class Mailbox:
    name: str
    uniqueid: str
    acl: str = ""
    uidlast: int = 0
    seen_lastchange: int | None = None
    last_recent_uid: int | None = None
    uidvalidity: int | None = None
    last_appenddate: int | None = None
    highestmodseq: int | None = None
    sync_crc: int | None = None
    sync_crc_annot: int | None = None
    messages: list[Message] = field(default_factory=list)
    fields: dict | None = None    # modern dialect: every key of the MAILBOX kvlist, as sent


@dataclass(slots=True)
class SieveScript:
    name: str
    mtime: int
    active: bool = False
    content: bytes | None = None  # GET FETCH_SIEVE: the script itself


def mailbox_uniqueid(name: str, uidvalidity: int) -> str:
    """The uniqueid both ends compute for a new folder (legacy spec 5.1)."""
    h = 0
    for b in name.encode("utf-8", "surrogateescape"):
        h = (h * 251) & 0xFFFFFFFF
        h = (h + b) & 0xFFFFFFFF
        h %= 2147484043
    return "%08x%08x" % (h, uidvalidity & 0xFFFFFFFF)


def user_of_mailbox(name: str) -> str | None:
    """``user.dpc22.zzz`` → ``dpc22``; shared folders have no user."""
    if not name.startswith("user."):
        return None
    rest = name[5:]
    return rest.split(".", 1)[0] or None
