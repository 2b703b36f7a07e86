"""Folder differences that are one folder under two names or uniqueids: renamed, deleted
(a delayed delete renames to DELETED.…) or re-created on one end."""

from __future__ import annotations

from syncsh.diff.compare import (DELETED, ONLY_MASTER, ONLY_REPLICA, RECREATED, RENAMED,
                                 Finding, is_delayed_delete)


def pair_renames(findings: list[Finding]) -> list[Finding]:
    """A mailbox only on the master and one only on the replica with the same uniqueid are
    one mailbox, renamed or deleted (delayed delete renames to DELETED.…) on one end;
    a replica DELETED.… folder holding a re-created mailbox's old uniqueid is the
    original it replaced (only-on-* findings carry the uniqueid as master/replica)."""
    masters = {f.master: f for f in findings if f.kind == ONLY_MASTER and f.master}
    recreated = {f.master: f for f in findings if f.kind == RECREATED}
    recreated_on_master = {f.replica: f for f in findings if f.kind == RECREATED}
    renamed: dict[int, Finding] = {}
    skip: set[int] = set()
    for f in findings:
        if f.kind == ONLY_REPLICA and f.replica in recreated and is_delayed_delete(f.mailbox):
            skip.add(id(f))
            original = recreated[f.replica]
            original.detail += (f" (re-created on the replica: it keeps the original as "
                                f"{f.mailbox})")
            original.facts["replica_original"] = f.mailbox
        elif f.kind == ONLY_MASTER and f.master in recreated_on_master and \
                is_delayed_delete(f.mailbox):
            skip.add(id(f))
            masters.pop(f.master, None)
            original = recreated_on_master[f.master]
            original.detail += (f" (re-created on the master: it keeps the original as "
                                f"{f.mailbox})")
            original.facts["master_original"] = f.mailbox
        elif f.kind == ONLY_REPLICA and f.replica in masters:
            m = masters.pop(f.replica)
            skip.add(id(f))
            renamed[id(m)] = _moved(m, f)
    return [renamed.get(id(f), f) for f in findings if id(f) not in skip]


def _moved(m: Finding, r: Finding) -> Finding:
    """The one mailbox (uniqueid) under two names: m's on the master, r's on the replica."""
    facts = {"master_name": m.mailbox, "replica_name": r.mailbox,
             "master_messages": m.facts.get("messages"), "replica_messages": r.facts.get("messages")}
    if is_delayed_delete(r.mailbox) and not is_delayed_delete(m.mailbox):
        return Finding(r.user, m.mailbox, DELETED, f"{m.mailbox} was deleted on the replica "
                       f"(kept as {r.mailbox} until expired)", m.mailbox, r.mailbox,
                       facts=dict(facts, deleted_on="replica"))
    if is_delayed_delete(m.mailbox) and not is_delayed_delete(r.mailbox):
        return Finding(r.user, r.mailbox, DELETED, f"{r.mailbox} was deleted on the master "
                       f"(kept as {m.mailbox} until expired)", m.mailbox, r.mailbox,
                       facts=dict(facts, deleted_on="master"))
    return Finding(m.user, m.mailbox, RENAMED, f"renamed: {r.mailbox} on the replica is "
                   f"{m.mailbox} on the master (uniqueid {r.replica})", m.mailbox, r.mailbox,
                   facts=facts)
