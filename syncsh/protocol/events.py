"""The reply events both dialects' codecs emit (the modern dialect's own are in
csync_events.py, the data model's in syncsh.model), and the one "need more data" sentinel
of every codec. Frozen: an event is what was read, never changed after."""

from __future__ import annotations

from dataclasses import dataclass


class _NeedData:
    """What a codec's next_event() returns when it needs more bytes."""
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()

@dataclass(frozen=True, slots=True)
class Banner:
    text: str
    dialect: str
    version: str | None = None
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Subscription:
    name: str


@dataclass(frozen=True, slots=True)
class Reserved:
    guid: str


@dataclass(frozen=True, slots=True)
class ContentsItem:
    uid: int
    internaldate: int
    return_path: str
    flags: tuple[str, ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Untagged:
    text: str
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Continuation:
    text: str


@dataclass(frozen=True, slots=True)
class SelectInfo:
    uniqueid: str
    uidlast: int
    seen_lastchange: int
    last_recent_uid: int | None = None


@dataclass(frozen=True, slots=True)
class Done:
    """The final OK/NO/BAD of a command; ``data`` is what an OK carries, typed."""
    status: str
    text: str
    command: str = ""
    data: object = None
    code: str | None = None      # IMAP_… prefix of a NO, or [CONTINUE]/[RESTART]

    @property
    def ok(self) -> bool:
        return self.status == "OK"
