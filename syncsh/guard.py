"""The one guard rail.  A write (the command tables mark them) goes through on demo:
targets and with --allow-writes; elsewhere it needs confirmation (the REPL asks, one-shot
and replay refuse); --read-only, or a named target marked read_only, refuses it always."""

from __future__ import annotations

SEND, CONFIRM, REFUSE = "send", "confirm", "refuse"


def decide(write: bool, target, *, read_only: bool = False, allow_writes: bool = False) -> str:
    if not write:
        return SEND
    if read_only or target.read_only:
        return REFUSE
    if target.is_demo or allow_writes:
        return SEND
    return CONFIRM
