"""Small pieces of a diff that are not comparisons: the CRC self-check of each end's
records, and how quota and seen state are worded."""

from __future__ import annotations

from syncsh.diff import compare as C
from syncsh.diff.compare import Finding


def crc_checked(command, events, into: list):
    """The reply with the CRC check of syncsh.protocol.crc (the one every format uses);
    its verdicts go to ``into`` rather than into the stream diff reads."""
    from syncsh.protocol.crc import CrcVerdict, checked
    for event in checked(command, events):
        if isinstance(event, CrcVerdict):
            into.append(event)
        else:
            yield event


def self_checks(user, verdicts: dict) -> list[Finding]:
    """A server whose SYNC_CRC is not that of the records it sent."""
    return [Finding(user, v.mailbox, C.CRC, f"the {side}'s {v.name} {v.server} is not the one "
                    f"computed from the records it sent ({v.computed})", v.server, v.computed,
                    facts={"self_check": side})
            for side, found in verdicts.items() for v in found if v.agree is False]


def quota_text(quota) -> str:
    """STORAGE 20000 KiB / MESSAGE 500, as the quota command says it; "none" without one."""
    if quota is None:
        return "none"
    parts = [f"{name} {value} KiB" if name == "STORAGE" else f"{name} {value}"
             for name, value in quota.resources]
    if quota.limit is not None and not parts:
        parts = [f"STORAGE {quota.limit} KiB"]
    return " / ".join(parts) or "no limits"


def seen_text(seen) -> str:
    if seen is None or not seen.seenuids:
        return "none"
    return f"UIDs {seen.seenuids}"
