"""What a divergence is: findings, and the pure comparisons that produce them.

Messages are compared as two UID-ordered streams merged in step, so a million-message
mailbox costs one message of memory per side.  Counter differences that follow from
message-level ones (LAST_UID after an append, HIGHESTMODSEQ and the CRCs after a flag
change) are marked as consequences rather than reported as findings of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syncsh.model import Mailbox, Message, MessageBatch, canonical_flags

# kinds of finding
ONLY_MASTER, ONLY_REPLICA, RECREATED, RENAMED = ("only-on-master", "only-on-replica",
                                                 "re-created", "renamed")
MISSING_ON_REPLICA, MISSING_ON_MASTER, SPLIT_BRAIN, FLAGS, MODSEQ, EXPUNGED = (
    "missing-on-replica", "missing-on-master", "split-brain", "flags", "modseq", "expunged")
UIDLAST, UIDVALIDITY, HIGHESTMODSEQ, ACL, SEEN, CRC, SIZE, ANNOTATIONS, BODY = (
    "uidlast", "uidvalidity", "highestmodseq", "acl", "seen", "crc", "size", "annotations",
    "body")
SUBSCRIPTION, QUOTA, SIEVE, LOCK = "subscription", "quota", "sieve", "lock"
MESSAGE_KINDS = {MISSING_ON_REPLICA, MISSING_ON_MASTER, SPLIT_BRAIN, FLAGS, MODSEQ, EXPUNGED,
                 SIZE, BODY}


@dataclass
class Finding:
    user: str
    mailbox: str
    kind: str
    detail: str
    master: object = None
    replica: object = None
    uid: int | None = None
    consequence: bool = False
    step: str = ""

    @property
    def key(self) -> tuple:
        """What makes two findings the same (for --recheck)."""
        return (self.user, self.mailbox, self.kind, self.uid, repr(self.master), repr(self.replica))


@dataclass
class MailboxCounts:
    master_messages: int = 0
    replica_messages: int = 0


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    mailboxes: dict[tuple[str, str], MailboxCounts] = field(default_factory=dict)
    users: list[str] = field(default_factory=list)
    identical_users: list[str] = field(default_factory=list)
    absent_users: list[str] = field(default_factory=list)    # no mailbox on either end
    errors: list[str] = field(default_factory=list)

    @property
    def divergent(self) -> bool:
        return any(not f.consequence for f in self.findings)


def is_delayed_delete(name: str) -> bool:
    return name.startswith("DELETED.") or ".DELETED." in name or "!DELETED." in name


def is_expunged(message: Message) -> bool:
    return any(f.lower() == "\\expunged" for f in message.flags)


def flags_of(message: Message) -> tuple:
    """Flags as replication compares them: \\Expunged is state, not a flag."""
    return canonical_flags(tuple(f for f in message.flags if f.lower() != "\\expunged"))


def merge_messages(user: str, mailbox: str, master, replica, *, modern: bool,
                   expunged: bool = False, full: bool = False, counts: MailboxCounts | None = None):
    """Compare two UID-ordered message streams; yield findings as they are found."""
    yield from merge_runs(user, mailbox, singles(master), singles(replica), modern=modern,
                          expunged=expunged, full=full, counts=counts)


def singles(messages, size: int = 256):
    """Messages that come one by one, as runs (of up to ``size``) for merge_runs."""
    run: list[Message] = []
    for message in messages:
        run.append(message)
        if len(run) >= size:
            yield MessageBatch.of(run)
            run = []
    if run:
        yield MessageBatch.of(run)


class _Cursor:
    """A position in a stream of MessageBatch runs."""

    def __init__(self, runs) -> None:
        self.runs = iter(runs)
        self.run: MessageBatch | None = None
        self.at = 0
        self.skip(0)

    @property
    def left(self) -> int:
        """Messages left in the current run."""
        return len(self.run) - self.at if self.run is not None else 0

    def current(self) -> Message | None:
        return self.run[self.at] if self.run is not None else None

    def skip(self, count: int) -> None:
        self.at += count
        while self.run is None or self.at >= len(self.run):
            self.run, self.at = next(self.runs, None), 0
            if self.run is None:
                return


def _same_stretch(m: _Cursor, r: _Cursor, count: int, modern: bool, full: bool) -> bool:
    """Whether the next ``count`` messages agree exactly on both sides (UIDs, GUIDs,
    flags, and the modseqs and sizes compared): then compare_message finds nothing in
    them, and slices of the columns say so without a Message object."""
    a, b, i, j = m.run, r.run, m.at, r.at
    names = ("uids", "guids", "flags") + (("modseqs",) if modern else ()) + \
        (("sizes",) if full else ())
    for name in names:
        left, right = getattr(a, name), getattr(b, name)
        if left is None or right is None:
            if left is not right:
                return False
            continue
        if left[i:i + count] != right[j:j + count]:
            return False
    return True


def merge_runs(user: str, mailbox: str, master_runs, replica_runs, *, modern: bool,
               expunged: bool = False, full: bool = False, counts: MailboxCounts | None = None):
    """merge_messages over runs of messages: stretches where both sides agree exactly are
    passed over by comparing column slices (a million in-sync messages cost a few thousand
    slice comparisons); elsewhere one message at a time.  The stretch tried grows while
    the sides agree and shrinks where they differ."""
    m, r = _Cursor(master_runs), _Cursor(replica_runs)
    stretch = 64
    while m.run is not None or r.run is not None:
        if m.run is not None and r.run is not None:
            count = min(m.left, r.left, stretch)
            if _same_stretch(m, r, count, modern, full):
                if counts:
                    counts.master_messages += count
                    counts.replica_messages += count
                m.skip(count)
                r.skip(count)
                stretch = min(stretch * 2, 1 << 16)
                continue
            stretch = max(stretch // 4, 8)
        a, b = m.current(), r.current()
        if a is not None and (b is None or a.uid < b.uid):
            if counts:
                counts.master_messages += 1
            if expunged or not is_expunged(a):
                yield Finding(user, mailbox, MISSING_ON_REPLICA,
                              f"UID {a.uid} ({a.guid}) is on the master only", a.guid, None, a.uid)
            m.skip(1)
        elif b is not None and (a is None or b.uid < a.uid):
            if counts:
                counts.replica_messages += 1
            if expunged or not is_expunged(b):
                yield Finding(user, mailbox, MISSING_ON_MASTER,
                              f"UID {b.uid} ({b.guid}) is on the replica only", None, b.guid, b.uid)
            r.skip(1)
        else:
            if counts:
                counts.master_messages += 1
                counts.replica_messages += 1
            yield from compare_message(user, mailbox, a, b, modern=modern, expunged=expunged,
                                       full=full)
            m.skip(1)
            r.skip(1)


def compare_message(user, mailbox, m: Message, r: Message, *, modern: bool, expunged: bool,
                    full: bool):
    gone_m, gone_r = is_expunged(m), is_expunged(r)
    if gone_m and gone_r:
        return                  # both expunged: Cyrus keeps them for a while; not divergence
    if gone_m != gone_r:
        if expunged or not modern:
            yield Finding(user, mailbox, EXPUNGED, f"UID {m.uid} is expunged on the "
                          f"{'master' if gone_m else 'replica'} only", gone_m, gone_r, m.uid)
        else:
            kind = MISSING_ON_MASTER if gone_m else MISSING_ON_REPLICA
            where = "replica" if gone_m else "master"
            yield Finding(user, mailbox, kind, f"UID {m.uid} ({m.guid}) is live on the {where} "
                          "only (expunged on the other side)", m.guid if not gone_m else None,
                          r.guid if not gone_r else None, m.uid)
        return
    if m.guid.lower() != r.guid.lower():
        yield Finding(user, mailbox, SPLIT_BRAIN, f"UID {m.uid} holds different messages: "
                      f"{m.guid} on the master, {r.guid} on the replica", m.guid, r.guid, m.uid)
        return
    if flags_of(m) != flags_of(r):
        yield Finding(user, mailbox, FLAGS, f"UID {m.uid} flags: ({' '.join(m.flags)}) on the "
                      f"master, ({' '.join(r.flags)}) on the replica",
                      list(m.flags), list(r.flags), m.uid)
    elif modern and m.modseq != r.modseq:
        yield Finding(user, mailbox, MODSEQ, f"UID {m.uid} modseq {m.modseq} on the master, "
                      f"{r.modseq} on the replica", m.modseq, r.modseq, m.uid)
    if full and m.size is not None and r.size is not None and m.size != r.size:
        yield Finding(user, mailbox, SIZE, f"UID {m.uid} size {m.size} on the master, {r.size} "
                      "on the replica", m.size, r.size, m.uid)


def compare_mailbox_meta(user: str, m: Mailbox, r: Mailbox, *, modern: bool) -> list[Finding]:
    """Counters and properties; consequences are decided later, once the messages are known."""
    out = []
    name = m.name

    def add(kind, what, a, b):
        out.append(Finding(user, name, kind, f"{what} {a} on the master, {b} on the replica", a, b))

    if m.acl != r.acl:
        out.append(Finding(user, name, ACL, f"ACL {m.acl!r} on the master, {r.acl!r} on the "
                           "replica", m.acl, r.acl))
    if m.uidlast != r.uidlast:
        add(UIDLAST, "LAST_UID" if modern else "uidlast", m.uidlast, r.uidlast)
    if modern:
        if m.uidvalidity != r.uidvalidity:
            add(UIDVALIDITY, "UIDVALIDITY", m.uidvalidity, r.uidvalidity)
        if m.highestmodseq != r.highestmodseq:
            add(HIGHESTMODSEQ, "HIGHESTMODSEQ", m.highestmodseq, r.highestmodseq)
        for label, a, b in (("SYNC_CRC", m.sync_crc, r.sync_crc),
                            ("SYNC_CRC_ANNOT", m.sync_crc_annot, r.sync_crc_annot)):
            if a and b and a != b:
                add(CRC, label, a, b)
    else:
        if (m.seen_lastchange or 0) != (r.seen_lastchange or 0):
            add(SEEN, "seen lastchange", m.seen_lastchange, r.seen_lastchange)
    return out


def needs_records(m: Mailbox, r: Mailbox) -> bool:
    """Modern dialect: whether GET FULLMAILBOX is needed to know if the two agree."""
    if not m.sync_crc or not r.sync_crc:
        return True                        # 0: "not known"
    return (m.sync_crc, m.sync_crc_annot, m.uidlast, m.highestmodseq, m.uidvalidity) != \
        (r.sync_crc, r.sync_crc_annot, r.uidlast, r.highestmodseq, r.uidvalidity)


def mark_consequences(meta: list[Finding], messages: list[Finding], m: Mailbox, r: Mailbox) -> None:
    """Counter findings that the message-level findings explain become consequences."""
    if not messages:
        return
    kinds = {f.kind for f in messages}
    appended_beyond = any(f.kind in (MISSING_ON_REPLICA, MISSING_ON_MASTER) and f.uid is not None
                          and f.uid > min(m.uidlast or 0, r.uidlast or 0) for f in messages)
    for finding in meta:
        if finding.kind == UIDLAST and appended_beyond:
            finding.consequence = True
        elif finding.kind in (HIGHESTMODSEQ, CRC) and kinds & MESSAGE_KINDS:
            finding.consequence = True
        if finding.consequence:
            finding.detail += " (follows from the message differences below)"


def compare_sets(user: str, kind: str, what: str, master: dict, replica: dict) -> list[Finding]:
    """Subscriptions, sieve scripts, quota roots: by name, then by value."""
    out = []
    for name in sorted(set(master) | set(replica)):
        a, b = master.get(name), replica.get(name)
        if name not in replica:
            out.append(Finding(user, "", kind, f"{what} {name}: on the master only", a, None))
        elif name not in master:
            out.append(Finding(user, "", kind, f"{what} {name}: on the replica only", None, b))
        elif a != b:
            out.append(Finding(user, "", kind, f"{what} {name}: {a} on the master, {b} on the "
                               "replica", a, b))
    return out


def pair_renames(findings: list[Finding]) -> list[Finding]:
    """A mailbox only on the master and one only on the replica with the same uniqueid are
    one renamed mailbox (only-on-* findings carry the uniqueid as master/replica)."""
    masters = {f.master: f for f in findings if f.kind == ONLY_MASTER and f.master}
    renamed: dict[int, Finding] = {}
    skip: set[int] = set()
    for f in findings:
        if f.kind == ONLY_REPLICA and f.replica in masters:
            m = masters.pop(f.replica)
            skip.add(id(f))
            renamed[id(m)] = Finding(f.user, m.mailbox, RENAMED,
                                     f"renamed: {f.mailbox} on the replica is {m.mailbox} on the "
                                     f"master (uniqueid {f.replica})", m.mailbox, f.mailbox)
    return [renamed.get(id(f), f) for f in findings if id(f) not in skip]
