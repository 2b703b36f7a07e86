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
