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
DELETED, MESSAGE_ANNOTATION = "deleted", "message-annotation"
MESSAGE_KINDS = {MISSING_ON_REPLICA, MISSING_ON_MASTER, SPLIT_BRAIN, FLAGS, MODSEQ, EXPUNGED,
                 SIZE, BODY, MESSAGE_ANNOTATION}
# entries Cyrus keeps for itself on every message: they follow the record, not the user
INTERNAL_ANNOTATIONS = ("/vendor/cmu/cyrus-imapd/savedate", "/vendor/cmu/cyrus-imapd/createdmodseq")


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
    step: object = ""                   # a repair.Step once the report is complete
    facts: dict = field(default_factory=dict)   # what the repair model needs (guids, modseqs)

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
    absent_mailboxes: list[str] = field(default_factory=list)  # --mailbox names on neither

    @property
    def absent(self) -> list[str]:
        """Every name given that matched nothing on either end."""
        return self.absent_users + self.absent_mailboxes
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
            if is_expunged(a):
                if expunged:
                    yield kept_record(user, mailbox, a, None)
            else:
                yield Finding(user, mailbox, MISSING_ON_REPLICA,
                              f"UID {a.uid} ({a.guid}) is on the master only", a.guid, None, a.uid,
                              facts={"guid": a.guid})
            m.skip(1)
        elif b is not None and (a is None or b.uid < a.uid):
            if counts:
                counts.replica_messages += 1
            if is_expunged(b):
                if expunged:
                    yield kept_record(user, mailbox, None, b)
            else:
                yield Finding(user, mailbox, MISSING_ON_MASTER,
                              f"UID {b.uid} ({b.guid}) is on the replica only", None, b.guid, b.uid,
                              facts={"guid": b.guid})
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
        # both expunged: Cyrus keeps the records a while and replication leaves them be
        if expunged and (flags_of(m) != flags_of(r) or (modern and m.modseq != r.modseq)):
            yield kept_record(user, mailbox, m, r)
        return
    if gone_m != gone_r:
        if expunged or not modern:
            yield Finding(user, mailbox, EXPUNGED, f"UID {m.uid} is expunged on the "
                          f"{'master' if gone_m else 'replica'} only", gone_m, gone_r, m.uid)
        else:
            kind = MISSING_ON_MASTER if gone_m else MISSING_ON_REPLICA
            where = "replica" if gone_m else "master"
            yield Finding(user, mailbox, kind, f"UID {m.uid} ({m.guid}) is live on the {where} "
                          f"only (expunged on the {'master' if gone_m else 'replica'})",
                          m.guid if not gone_m else None, r.guid if not gone_r else None, m.uid,
                          facts={"guid": (r if gone_m else m).guid,
                                 "expunged_on": "master" if gone_m else "replica"})
        return
    if m.guid.lower() != r.guid.lower():
        yield Finding(user, mailbox, SPLIT_BRAIN, f"UID {m.uid} holds different messages: "
                      f"{m.guid} on the master, {r.guid} on the replica", m.guid, r.guid, m.uid,
                      facts={"guids": (m.guid, r.guid)})
        return
    modseqs = {"modseqs": (m.modseq, r.modseq)}
    notes = annotation_changes(m.annotations, r.annotations) if modern else []
    if flags_of(m) != flags_of(r):
        yield Finding(user, mailbox, FLAGS, f"UID {m.uid} flags: ({' '.join(m.flags)}) on the "
                      f"master, ({' '.join(r.flags)}) on the replica",
                      list(m.flags), list(r.flags), m.uid, facts=modseqs)
    for entry, userid, a, b in notes:
        yield Finding(user, mailbox, MESSAGE_ANNOTATION, f"UID {m.uid} annotation {entry} "
                      f"({_annotation_owner(userid)}): {_value(a)} on the master, {_value(b)} "
                      "on the replica", a, b, m.uid, facts=dict(modseqs, entry=entry,
                                                                userid=userid))
    if modern and m.modseq != r.modseq and flags_of(m) == flags_of(r) and not notes:
        yield Finding(user, mailbox, MODSEQ, f"UID {m.uid} modseq {m.modseq} on the master, "
                      f"{r.modseq} on the replica", m.modseq, r.modseq, m.uid, facts=modseqs)
    if full and m.size is not None and r.size is not None and m.size != r.size:
        yield Finding(user, mailbox, SIZE, f"UID {m.uid} size {m.size} on the master, {r.size} "
                      "on the replica", m.size, r.size, m.uid)


def _annotation_owner(userid: str) -> str:
    return f"private to {userid}" if userid else "shared"


def _value(value) -> str:
    return "none" if value is None else repr(value)


def annotation_changes(master, replica) -> list[tuple]:
    """(entry, userid, master value, replica value) for each annotation that differs; a
    value is None on the side that lacks it.  Modseqs are left out: they are per side."""
    def table(annotations):
        return {(e, u): v for e, u, _, v in annotations or () if e not in INTERNAL_ANNOTATIONS}
    a, b = table(master), table(replica)
    return [(e, u, a.get((e, u)), b.get((e, u))) for e, u in sorted(set(a) | set(b))
            if a.get((e, u)) != b.get((e, u))]


def kept_record(user, mailbox, m: Message | None, r: Message | None) -> Finding:
    """--expunged: an expunged record that differs between the ends.  Not divergence:
    expunged records are outside SYNC_CRC and no sync aligns them."""
    def side(message):
        if message is None:
            return "no record"
        return f"MODSEQ {message.modseq} ({' '.join(message.flags)})" if message.modseq \
            is not None else f"({' '.join(message.flags)})"
    uid = (m or r).uid
    return Finding(user, mailbox, EXPUNGED, f"UID {uid} expunged record: {side(m)} on the "
                   f"master, {side(r)} on the replica", m and list(m.flags), r and list(r.flags),
                   uid, consequence=True, facts={"kept_record": True})


def compare_mailbox_meta(user: str, m: Mailbox, r: Mailbox, *, modern: bool) -> list[Finding]:
    """Counters and properties; consequences are decided later, once the messages are known."""
    out = []
    name = m.name

    def add(kind, what, a, b):
        out.append(Finding(user, name, kind, f"{what} {a} on the master, {b} on the replica", a, b))

    if m.acl != r.acl:
        out.append(Finding(user, name, ACL, f"ACL {_acl(m.acl)} on the master, {_acl(r.acl)} "
                           "on the replica", m.acl, r.acl,
                           facts={"highestmodseq": (m.highestmodseq, r.highestmodseq)}))
    if modern:
        for entry, userid, a, b in annotation_changes(mailbox_annotations(m),
                                                      mailbox_annotations(r)):
            out.append(Finding(user, name, ANNOTATIONS, f"mailbox annotation {entry} "
                               f"({_annotation_owner(userid)}): {_value(a)} on the master, "
                               f"{_value(b)} on the replica", a, b,
                               facts={"entry": entry, "userid": userid,
                                      "highestmodseq": (m.highestmodseq, r.highestmodseq)}))
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


def _acl(acl: str) -> str:
    from syncsh.model import parse_acl
    return "(" + ", ".join(f"{e.identifier} {e.rights}" for e in parse_acl(acl or "")) + ")"


def mailbox_annotations(box: Mailbox) -> tuple:
    """The MAILBOX line's ANNOTATIONS as (entry, userid, modseq, value) tuples."""
    def text(value):
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return tuple((text(a.get("ENTRY")), text(a.get("USERID")) or "", text(a.get("MODSEQ")),
                  text(a.get("VALUE"))) for a in (box.fields or {}).get("ANNOTATIONS") or ()
                 if isinstance(a, dict))


def needs_records(m: Mailbox, r: Mailbox) -> bool:
    """Modern dialect: whether GET FULLMAILBOX is needed to know if the two agree."""
    if not m.sync_crc or not r.sync_crc:
        return True                        # 0: "not known"
    return (m.sync_crc, m.sync_crc_annot, m.uidlast, m.highestmodseq, m.uidvalidity) != \
        (r.sync_crc, r.sync_crc_annot, r.uidlast, r.highestmodseq, r.uidvalidity)


def mark_consequences(meta: list[Finding], messages: list[Finding], m: Mailbox, r: Mailbox) -> None:
    """Counter findings that the message-level findings explain become consequences."""
    causes = [f for f in messages if not f.consequence] + \
        [f for f in meta if f.kind in (ACL, ANNOTATIONS)]
    if not causes:
        return
    kinds = {f.kind for f in causes}
    appended_beyond = any(f.kind in (MISSING_ON_REPLICA, MISSING_ON_MASTER) and f.uid is not None
                          and f.uid > min(m.uidlast or 0, r.uidlast or 0) for f in messages)
    for finding in meta:
        if finding.kind == UIDLAST and appended_beyond:
            finding.consequence = True
        elif finding.kind in (HIGHESTMODSEQ, CRC) and kinds & (MESSAGE_KINDS | {ACL, ANNOTATIONS}):
            finding.consequence = True
        if finding.consequence:
            finding.detail += " (follows from the differences below)"


def note_passed_uids(messages: list[Finding], master: Mailbox) -> None:
    """A UID the replica holds that the master's LAST_UID has passed, with no record of it on
    the master: expunged there and the record since expired (cyr_expire -X); sync_client
    expunges the replica's copy, it does not copy it back."""
    for finding in messages:
        if finding.kind == MISSING_ON_MASTER and "expunged_on" not in finding.facts and \
                finding.uid is not None and finding.uid <= (master.uidlast or 0):
            finding.facts["expunged_on"] = "master"
            finding.detail += (f" (the master's LAST_UID {master.uidlast} is past it: expunged "
                               "there, its record expired)")


def compare_sets(user: str, kind: str, what: str, master: dict, replica: dict) -> list[Finding]:
    """Subscriptions, sieve scripts, quota roots: by name, then by value."""
    out = []
    for name in sorted(set(master) | set(replica)):
        a, b = master.get(name), replica.get(name)
        if name not in replica:
            out.append(Finding(user, "", kind, f"{what} {name}: on the master only", a, None,
                               facts={"name": name}))
        elif name not in master:
            out.append(Finding(user, "", kind, f"{what} {name}: on the replica only", None, b,
                               facts={"name": name}))
        elif a != b:
            out.append(Finding(user, "", kind, f"{what} {name}: {a} on the master, {b} on the "
                               "replica", a, b, facts={"name": name}))
    return out
