"""Reading both ends through the protocol, side by side, and comparing as the replies
stream in.  Nothing is written: the documented dialect's lock is released with ENDUSER at
once, the modern dialect only ever sees GET."""

from __future__ import annotations

import hashlib

from syncsh.diff import compare as C
from syncsh.diff.compare import Finding, MailboxCounts, Report
from syncsh.diff.folders import pair_renames
from syncsh.diff.user_state import crc_checked, quota_text, seen_text, self_checks
from syncsh.errors import ConnectionLost, SyncshError
from syncsh.model import Mailbox, Message, MessageBatch, SieveScript
from syncsh.protocol.csync import MailboxEnd, Quota, Seen
from syncsh.protocol.dlist_values import encode_named
from syncsh.protocol.events import Done, Subscription


class Side:
    """One end's reply, read an event at a time with one event of look-ahead."""

    def __init__(self, events) -> None:
        self.events = events
        self.head = None
        self.done: Done | None = None

    def peek(self):
        if self.head is None and self.done is None:
            self.head = next(self.events, None)
            if isinstance(self.head, Done):
                self.done, self.head = self.head, None
        return self.head

    def take(self):
        event = self.peek()
        self.head = None
        return event

    def mailbox(self) -> Mailbox | None:
        event = self.peek()
        while event is not None and not isinstance(event, Mailbox) and \
                isinstance(event, MailboxEnd):
            self.take()
            event = self.peek()
        return event if isinstance(event, Mailbox) else None

    def runs(self):
        """The current mailbox's messages as MessageBatch runs (lone messages gathered)."""
        while isinstance(self.peek(), (Message, MessageBatch)):
            if isinstance(self.peek(), MessageBatch):
                yield self.take()
                continue
            lone = []
            while isinstance(self.peek(), Message) and len(lone) < 256:
                lone.append(self.take())
            yield MessageBatch.of(lone)
        if isinstance(self.peek(), MailboxEnd):
            self.take()

    def messages(self):
        for run in self.runs():
            yield from run

    def count(self) -> int:
        return sum(map(len, self.runs()))

    def rest(self) -> list:
        out = []
        while self.peek() is not None:
            out.append(self.take())
        return out

    def finish(self) -> Done:
        self.rest()
        return self.done


class SieveMailboxDiffers(Exception):
    """Sessions that list a user's sieve scripts as their ``#sieve`` mailbox (SIEVE-MAILBOX,
    as Cyrus' own sync_client asks) found that mailbox not the same on the two ends: the
    user is to be compared again through sessions that list the scripts themselves, so
    that the findings are those of ``diff --user``."""


def is_sieve_mailbox(name: str) -> bool:
    return name.endswith((".#sieve", "/#sieve"))


def run_together(sessions, line) -> list[tuple[list, object]]:
    """The same command sent to every session first, then each reply read in turn."""
    for session in sessions:
        session.send(line)
    out = []
    for session in sessions:
        events = list(session.replies())
        out.append((events[:-1], events[-1]))
    return out


class Differ:
    def __init__(self, master, replica, *, expunged: bool = False, full: bool = False,
                 master_store: str | None = None, master_name: str = "MASTER",
                 replica_name: str = "REPLICA", sieve_mailbox: bool = False) -> None:
        """``sieve_mailbox``: both sessions enabled SIEVE-MAILBOX (see SieveMailboxDiffers)."""
        self.m, self.r = master, replica
        self.sieve_mailbox = sieve_mailbox
        # user -> both ends' GET USER replies, read already (an audit asks ahead)
        self.asked: dict[str, list[tuple[list, Done]]] = {}
        self.expunged = expunged
        self.full = full
        self.master_store = master_store
        self.master_name, self.replica_name = master_name, replica_name
        if master.dialect != replica.dialect and {master.dialect, replica.dialect} - {"seed", "2005"}:
            raise SyncshError(f"the master speaks {master.dialect} and the replica "
                              f"{replica.dialect}: diff compares two ends of one dialect")
        self.modern = master.dialect == "csync"

    # ------------------------------------------------------------------ entry points
    def run(self, users: list[str], mailboxes: list[str], on_user=None) -> Report:
        """Compare user by user; ``on_user(user, findings)`` gets each user's findings,
        with their next steps, as soon as that user is done (the text report streams)."""
        report = Report()
        groups: dict[str, list[str]] = {}
        if mailboxes:
            from syncsh.model import user_of_mailbox
            for name in mailboxes:
                groups.setdefault(user_of_mailbox(name) or "", []).append(name)
        else:
            groups = {u: [] for u in users}
        for user, names in groups.items():
            report.users.append(user)
            before, boxes_before = len(report.findings), len(report.mailboxes)
            errors_before = len(report.errors)
            try:
                if self.modern:
                    self.modern_user(report, user, names)
                else:
                    self.legacy_user(report, user, names)
            except ConnectionLost as exc:
                report.errors.append(f"{user}: {exc}")
                continue
            if len(report.errors) > errors_before:
                continue                  # not compared: an error, neither absent nor identical
            found = report.findings[before:] = pair_renames(report.findings[before:])
            for finding in found:
                finding.step = self.suggest(finding)
            # a mistyped name is no "identical": names that matched nothing are said
            seen = {f.mailbox for f in found} | {name for u, name in report.mailboxes if u == user}
            missing = [name for name in names if name not in seen]
            report.absent_mailboxes += missing
            nothing = not found and len(report.mailboxes) == boxes_before
            if nothing and not names:
                report.absent_users.append(user)
            elif not nothing and not any(not f.consequence for f in found):
                report.identical_users.append(user)
            if on_user is not None:
                on_user(user, found)
        return report

    # ------------------------------------------------------------------ documented dialect
    def legacy_user(self, report: Report, user: str, names: list[str]) -> None:
        if names:
            command = "USER_SOME " + " ".join([user] + names)
            order = {n: i for i, n in enumerate(names)}

            def key(name):
                return order.get(name, len(order)), name
        else:
            command = f"USER_ALL {user}"

            def key(name):
                return (0 if name == f"user.{user}" else 1), name
        ms = Side(self.m.execute(command, batches=True))
        rs = Side(self.r.execute(command, batches=True))
        findings_before, boxes_before = len(report.findings), set(report.mailboxes)
        try:
            self.merge_mailboxes(report, user, ms, rs, key)
            m_rest, r_rest = ms.rest(), rs.rest()
            failed = False
            for side, done in (("master", ms.done), ("replica", rs.done)):
                if done is not None and not done.ok:
                    if "lock" in done.text.lower():
                        failed = True
                        report.errors.append(f"{user}: the {side} did not give its lock "
                                             f"({done.text}): not compared; retry when no "
                                             "replication run holds the user")
                    elif done.code != "IMAP_MAILBOX_NONEXISTENT":
                        failed = True
                        report.errors.append(f"{user} on the {side}: {done.status} {done.text}")
            if failed:
                # one end said nothing of the user: what the other holds is no divergence,
                # and a next step drawn from it would delete real mail
                del report.findings[findings_before:]
                for key_ in set(report.mailboxes) - boxes_before:
                    del report.mailboxes[key_]
                return
            if not names:
                self.user_extras(report, user, m_rest, r_rest,
                                 ms.done.data if ms.done and ms.done.ok else None,
                                 rs.done.data if rs.done and rs.done.ok else None)
        finally:
            for session in (self.m, self.r):
                if not session.closed:
                    session.run("ENDUSER")        # the lock blocks replication: release now

    def merge_mailboxes(self, report, user, ms: Side, rs: Side, key) -> None:
        while True:
            a, b = ms.mailbox(), rs.mailbox()
            if a is None and b is None:
                return
            if b is None or (a is not None and key(a.name) < key(b.name)):
                ms.take()
                self.one_side(report, user, a, ms, master=True)
            elif a is None or key(b.name) < key(a.name):
                rs.take()
                self.one_side(report, user, b, rs, master=False)
            else:
                ms.take()
                rs.take()
                self.both_sides(report, user, a, b, ms, rs)

    def one_side(self, report, user, box: Mailbox, side: Side, *, master: bool) -> None:
        messages = [(m.uid, m.guid) for m in side.messages()]
        label = " (a delayed-delete folder)" if C.is_delayed_delete(box.name) else ""
        kind = C.ONLY_MASTER if master else C.ONLY_REPLICA
        where = "master" if master else "replica"
        finding = Finding(user, box.name, kind, f"{box.name}{label} exists on the {where} only "
                          f"({len(messages)} message(s))", facts={"messages": messages})
        if master:
            finding.master = box.uniqueid
        else:
            finding.replica = box.uniqueid
        report.findings.append(finding)

    def both_sides(self, report, user, a: Mailbox, b: Mailbox, ms: Side, rs: Side) -> None:
        counts = report.mailboxes.setdefault((user, a.name), MailboxCounts())
        if a.uniqueid != b.uniqueid:
            n_m = ms.count()
            r_messages = [(m.uid, m.guid) for m in rs.messages()]
            report.findings.append(Finding(user, a.name, C.RECREATED, f"{a.name} was re-created: "
                                           f"uniqueid {a.uniqueid} ({n_m} messages) on the master, "
                                           f"{b.uniqueid} ({len(r_messages)}) on the replica",
                                           a.uniqueid, b.uniqueid,
                                           facts={"replica_messages": r_messages}))
            return
        meta = C.compare_mailbox_meta(user, a, b, modern=self.modern)
        messages = list(C.merge_runs(user, a.name, ms.runs(), rs.runs(), modern=self.modern,
                                         expunged=self.expunged, full=self.full, counts=counts))
        C.mark_consequences(meta, messages, a, b)
        report.findings += meta + messages

    def user_extras(self, report, user, m_rest, r_rest, m_quota, r_quota) -> None:
        subs = [{e.name: True for e in rest if isinstance(e, Subscription)}
                for rest in (m_rest, r_rest)]
        report.findings += C.compare_sets(user, C.SUBSCRIPTION, "subscription", *subs)
        sieve = [{e.name: ("active" if e.active else "inactive", e.mtime) for e in rest
                  if isinstance(e, SieveScript)} for rest in (m_rest, r_rest)]
        report.findings += C.compare_sets(user, C.SIEVE, "sieve script", *sieve)
        if m_quota != r_quota:
            report.findings.append(Finding(user, "", C.QUOTA, f"quota limit {m_quota} on the "
                                           f"master, {r_quota} on the replica", m_quota, r_quota))

    # ------------------------------------------------------------------ modern dialect
    def modern_user(self, report: Report, user: str, names: list[str]) -> None:
        replies = None if names else self.asked.pop(user, None)
        if replies is None:
            if names:
                command = encode_named("GET MAILBOXES", names)
            else:
                command = f"GET USER {user}".encode()
            # asked of both ends at once: one round trip's wait a user, not two
            replies = run_together((self.m, self.r), command)
        (m_events, m_done), (r_events, r_done) = replies
        for side, done in (("master", m_done), ("replica", r_done)):
            if not done.ok:
                raise ConnectionLost(f"GET on the {side}: {done.status} {done.text}")
        m_boxes = {e.name: e for e in m_events if isinstance(e, Mailbox)}
        r_boxes = {e.name: e for e in r_events if isinstance(e, Mailbox)}
        if self.sieve_mailbox and not names:
            self.set_aside_sieve_mailboxes(user, m_boxes, r_boxes)
        for name in sorted(set(m_boxes) | set(r_boxes)):
            a, b = m_boxes.get(name), r_boxes.get(name)
            if b is None or a is None:
                report.findings.append(self.one_sided(user, a or b, master=b is None))
                continue
            if a.uniqueid != b.uniqueid:
                report.findings.append(self.recreated(user, a, b))
                continue
            report.mailboxes.setdefault((user, name), MailboxCounts())
            if self.full or self.expunged or C.needs_records(a, b):
                self.full_mailbox(report, user, a, b)
            else:
                meta = C.compare_mailbox_meta(user, a, b, modern=True)
                C.mark_consequences(meta, [], a, b)
                report.findings += meta
        if not names:
            self.modern_extras(report, user, m_events, r_events)

    def set_aside_sieve_mailboxes(self, user, m_boxes: dict, r_boxes: dict) -> None:
        """The same #sieve mailbox on both ends (uniqueid, counters, CRCs) holds the same
        scripts and the same active one: nothing to report, as the script listing would
        say; any other difference is worded by that listing (SieveMailboxDiffers)."""
        for name in [n for n in set(m_boxes) | set(r_boxes) if is_sieve_mailbox(n)]:
            a, b = m_boxes.pop(name, None), r_boxes.pop(name, None)
            if a is None or b is None or a.uniqueid != b.uniqueid or C.needs_records(a, b) \
                    or C.compare_mailbox_meta(user, a, b, modern=True):
                raise SieveMailboxDiffers(user)

    def live_messages(self, session, name: str) -> list[tuple[int, str]]:
        """(UID, GUID) of a mailbox's live messages on one end: what a repair may lose."""
        side = Side(session.execute(f"GET FULLMAILBOX {name}".encode(), batches=True))
        if side.mailbox() is not None:
            side.take()
        live = [(m.uid, m.guid) for m in side.messages() if not C.is_expunged(m)]
        side.finish()                       # read to the end: the session stays in step
        return live

    def one_sided(self, user, box: Mailbox, *, master: bool) -> Finding:
        label = " (a delayed-delete folder)" if C.is_delayed_delete(box.name) else ""
        where = "master" if master else "replica"
        messages = self.live_messages(self.m if master else self.r, box.name)
        finding = Finding(user, box.name, C.ONLY_MASTER if master else C.ONLY_REPLICA,
                          f"{box.name}{label} exists on the {where} only "
                          f"({len(messages)} live message(s), UIDVALIDITY {box.uidvalidity})",
                          facts={"messages": messages})
        if master:
            finding.master = box.uniqueid
        else:
            finding.replica = box.uniqueid
        return finding

    def recreated(self, user, a: Mailbox, b: Mailbox) -> Finding:
        m_live, r_live = self.live_messages(self.m, a.name), self.live_messages(self.r, b.name)
        return Finding(user, a.name, C.RECREATED, f"{a.name} was re-created: uniqueid "
                       f"{a.uniqueid} UIDVALIDITY {a.uidvalidity} ({len(m_live)} live messages) "
                       f"on the master, {b.uniqueid} UIDVALIDITY {b.uidvalidity} "
                       f"({len(r_live)}) on the replica", a.uniqueid, b.uniqueid,
                       facts={"master_messages": m_live, "replica_messages": r_live})

    def full_mailbox(self, report, user, a: Mailbox, b: Mailbox) -> None:
        command = f"GET FULLMAILBOX {a.name}".encode()
        verdicts = {"master": [], "replica": []}
        ms = Side(crc_checked(command, self.m.execute(command, batches=True), verdicts["master"]))
        rs = Side(crc_checked(command, self.r.execute(command, batches=True), verdicts["replica"]))
        ma, rb = ms.mailbox(), rs.mailbox()
        if ma is not None:
            ms.take()
        if rb is not None:
            rs.take()
        counts = report.mailboxes[(user, a.name)]
        meta = C.compare_mailbox_meta(user, ma or a, rb or b, modern=True)
        messages = []
        m_msgs, r_msgs = ms.runs(), rs.runs()
        if self.full:
            # bodies are fetched one command at a time: read both listings to their end first
            # (so --full holds the listings; the default streams them)
            m_list, r_list = list(ms.messages()), list(rs.messages())
            ms.finish()
            rs.finish()
            m_msgs = C.singles(self.checked_bodies(user, a, m_list, self.m, "master", messages))
            r_msgs = C.singles(self.checked_bodies(user, b, r_list, self.r, "replica", messages))
        messages += list(C.merge_runs(user, a.name, m_msgs, r_msgs, modern=True,
                                          expunged=self.expunged, full=self.full, counts=counts))
        ms.finish()
        rs.finish()
        C.mark_consequences(meta, messages, ma or a, rb or b)
        C.note_passed_uids(messages, ma or a)
        report.findings += meta + messages + self_checks(user, verdicts)

    def checked_bodies(self, user, box, messages, session, side, out):
        """--full: each live message's body, fetched and hashed against its GUID.  The
        fetches wait until the listing has been read (one command at a time)."""
        held = messages
        for message in held:
            if C.is_expunged(message):
                continue
            fields = box.fields or {}
            kv = {"MBOXNAME": box.name, "PARTITION": fields.get("PARTITION", "default"),
                  "UNIQUEID": box.uniqueid, "GUID": message.guid, "UID": message.uid}
            from syncsh.protocol.csync import DlistLine
            from syncsh.protocol.dlist_values import KV
            events, done = session.run(encode_named("GET FETCH", KV(kv)))
            files = [e.value for e in events if isinstance(e, DlistLine) and e.name == "MESSAGE"]
            data = getattr(files[0], "data", None) if files else None
            if data is None or hashlib.sha1(data).hexdigest() != message.guid.lower():
                out.append(Finding(user, box.name, C.BODY, f"UID {message.uid}: the {side}'s "
                                   f"message file does not match its GUID {message.guid}",
                                   uid=message.uid))
        return iter(held)

    def modern_extras(self, report, user, m_events, r_events) -> None:
        subs = [{e.name: True for e in events if isinstance(e, Subscription)}
                for events in (m_events, r_events)]
        report.findings += C.compare_sets(user, C.SUBSCRIPTION, "subscription", *subs)
        seen = [{e.uniqueid: e for e in events if isinstance(e, Seen)}
                for events in (m_events, r_events)]
        report.findings += self.seen_findings(user, *seen)
        # LAST_UPDATE is the time the replica stored a script: only names and activity count
        sieve = [{e.name: e.active for e in events if isinstance(e, SieveScript)}
                 for events in (m_events, r_events)]
        report.findings += C.compare_sets(user, C.SIEVE, "sieve script", *sieve)
        quota = [{e.root: e for e in events if isinstance(e, Quota)}
                 for events in (m_events, r_events)]
        for root in sorted(set(quota[0]) | set(quota[1])):
            a, b = quota[0].get(root), quota[1].get(root)
            if quota_text(a) != quota_text(b):
                report.findings.append(Finding(user, "", C.QUOTA, f"quota on {root}: "
                                               f"{quota_text(a)} on the master, "
                                               f"{quota_text(b)} on the replica",
                                               quota_text(a), quota_text(b),
                                               facts={"root": root}))

    def seen_findings(self, user, master: dict, replica: dict) -> list[Finding]:
        """Seen state is kept per user and mailbox uniqueid: named by mailbox here."""
        ids = sorted(i for i in set(master) | set(replica)
                     if (master.get(i) and master[i].seenuids) != (replica.get(i) and
                                                                   replica[i].seenuids))
        names = self.mailbox_names(ids) if ids else {}
        out = []
        for uniqueid in ids:
            a, b = master.get(uniqueid), replica.get(uniqueid)
            name = names.get(uniqueid, f"uniqueid {uniqueid}")
            out.append(Finding(user, name, C.SEEN, f"{user}'s seen messages in {name}: "
                               f"{seen_text(a)} on the master, {seen_text(b)} on the replica",
                               a and a.seenuids, b and b.seenuids,
                               facts={"uniqueid": uniqueid, "reader": user}))
        return out

    def mailbox_names(self, uniqueids: list[str]) -> dict[str, str]:
        names = {}
        for session in (self.r, self.m):
            events, done = session.run(encode_named("GET UNIQUEIDS", uniqueids))
            names.update({e.uniqueid: e.name for e in events if isinstance(e, Mailbox)})
        return names

    # ------------------------------------------------------------------ next steps
    def suggest(self, f: Finding):
        from syncsh.diff import repair
        if self.modern:
            return repair.modern_step(f, self.replica_name)
        return repair.legacy_step(f, self.master_store or "MASTER_STORE", self.replica_name)
