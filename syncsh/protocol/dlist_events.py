"""The events the dlist reader (dlist.py) hands out: frozen, as every codec's are."""

from __future__ import annotations

from dataclasses import dataclass

from syncsh.protocol.dlist_values import KV

@dataclass(frozen=True, slots=True)
class Line:
    """A data line ``* NAME value``."""
    name: str
    value: object


@dataclass(frozen=True, slots=True)
class Text:
    """A line that is not a dlist: final replies, continuations, ``* Fatal error`` …"""
    text: str
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class RecordsStart:
    """``* MAILBOX %(…`` reached its RECORD list: the mailbox's other keys so far."""
    name: str
    fields: KV


@dataclass(frozen=True, slots=True)
class Record:
    value: KV


@dataclass(frozen=True, slots=True)
class RecordsEnd:
    name: str


@dataclass(frozen=True, slots=True)
class RecordRun:
    """Consecutive records of a streamed RECORD list read in one pass (``Reader.runs``):
    per record the groups of ``_RUN_RECORD`` as text.  ``lead``: bytes read before the run
    that no event took (the raw view gives them to the run's first record)."""
    rows: list[tuple[str, ...]]
    lead: int = 0
