"""The modern dialect's own reply events (the rest are the shared model's).

Kept apart from the codec so that the renderers can know them without importing the dlist
reader: start-up pays for what the first prompt needs, no more.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Quota:
    root: str
    limit: int | None
    resources: tuple[tuple[str, int], ...]
    modseq: int | None


@dataclass(frozen=True, slots=True)
class Seen:
    uniqueid: str
    lastread: int
    lastuid: int
    lastchange: int
    seenuids: str


@dataclass(frozen=True, slots=True)
class Missing:
    guids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DlistLine:
    name: str
    value: object


@dataclass(frozen=True, slots=True)
class MailboxEnd:
    """The end of one mailbox's records (GET FULLMAILBOX streams them)."""
    name: str
