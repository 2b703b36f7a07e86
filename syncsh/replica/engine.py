"""The replicate engine: sync_client of the documented dialect (legacy-protocol.md section 11).

It asks the replica what it has, compares with the master's store and sends the minimum:
the reserve pass before anything is expunged, COPY for bodies the replica holds, PARSED
uploads for the rest (the null GUID is never reserved or copied), then flags, expunges,
uidlast and seen state, mailbox creation, deletion, renames and ACLs, and in user mode
quota, subscriptions and sieve.

Every command is one transaction at the server and every decision is made from the two
states as they are now, so a run cut short anywhere is completed by the next one.
"""

from __future__ import annotations

from collections import OrderedDict

from syncsh.errors import SyncshError
from syncsh.model import Mailbox, Message, SieveScript, is_null_guid, ordered_flags, canonical_flags, \
    user_of_mailbox
from syncsh.protocol.events import Done, Reserved, SelectInfo, Subscription
from syncsh.protocol.wire import astring, flag_list, literal
from syncsh.replica.master import MasterMailbox, MasterStore, MasterUser

MAX_BATCH_ITEMS = 1000
MAX_BATCH_BYTES = 32 << 20


class ReplicationFailed(SyncshError):
    """A command the replica refused; the user's run stops there."""


class ReplicaState:
    """What the replica reported for one user (USER_SOME / USER_ALL)."""

    def __init__(self) -> None:
        self.mailboxes: list[Mailbox] = []
        self.subscriptions: list[str] = []
        self.sieve: list[SieveScript] = []
        self.quota: int = 0
        self.inbox_missing = False

    def read(self, events) -> None:
        current = None
        for event in events:
            if isinstance(event, Mailbox):
                current = event
                self.mailboxes.append(event)
            elif isinstance(event, Message) and current is not None:
                current.messages.append(event)
            elif isinstance(event, Subscription):
                self.subscriptions.append(event.name)
            elif isinstance(event, SieveScript):
                self.sieve.append(event)

    def by_uniqueid(self) -> dict[str, Mailbox]:
        return {m.uniqueid: m for m in self.mailboxes}


class Replicator:
    def __init__(self, master: MasterStore, session, *, verbosity: int = 0, dry_run: bool = False,
                 say=print, sent=None) -> None:
        self.master = master
        self.session = session
        self.verbosity = verbosity
        self.dry_run = dry_run
        self.say = say                    # the client's own verbose lines (stdout)
        self.sent = sent                  # dry run: where the unsent commands are shown
        self.available: set[str] = set()  # GUIDs staged on the server this session
        self.unsent = 0
        self.listed = 0                   # dry run: every command shown, sent or not

    # ------------------------------------------------------------------ the wire

    def request(self, parts: list[bytes], *, write: bool) -> tuple[list, Done]:
        line = b" ".join(parts)
        if self.dry_run and (write or line.startswith(b"RESERVE ")):
            self.unsent += 1
            self.listed += 1
            (self.sent or self.say)(_shown(line))
            if line.startswith(b"RESERVE "):
                return [Reserved(g.decode()) for g in parts[2:]], Done("OK", "dry run")
            return [], Done("OK", "dry run")
        if self.dry_run:
            self.listed += 1
            (self.sent or self.say)(_shown(line))       # reads are shown too, and sent
        events, done = self.session.run(line)
        if not done.ok:
            word = line.split(b" ", 1)[0].decode()
            raise ReplicationFailed(f"{word} failed: {done.status} {done.text}")
        return events, done

    # ------------------------------------------------------------------ modes

    def replicate_mailboxes(self, names: list[str]) -> None:
        """Mailbox mode (-m): the named mailboxes, grouped by user in the order given."""
        groups: OrderedDict[str, list[str]] = OrderedDict()
        for name in names:
            user = user_of_mailbox(name)
            if user is None:
                raise ReplicationFailed(f"{name}: only user.<id> mailboxes can be replicated")
            groups.setdefault(user, [])
            if name not in groups[user]:
                groups[user].append(name)
        for user, group in groups.items():
            self.mailbox_mode_user(user, group)

    def mailbox_mode_user(self, user: str, names: list[str]) -> None:
        if self.verbosity:
            self.say("MAILBOXES " + " ".join(names))
        events, _ = self.request([b"USER_SOME", astring(user)] + [astring(n) for n in names],
                                 write=False)
        replica = ReplicaState()
        replica.read(events)
        master = self.master.mailboxes(user, names)
        try:
            self.mailboxes_work(user, master, replica, names, all_of_user=False)
        finally:
            self.end_user()

    def user_mode_user(self, user: str) -> None:
        if self.verbosity:
            self.say(f"USER {user}")
        events, done = self.session.run(b"USER_ALL " + astring(user))
        replica = ReplicaState()
        if done.ok:
            replica.read(events)
            replica.quota = done.data or 0
        elif done.code == "IMAP_MAILBOX_NONEXISTENT":
            replica.inbox_missing = True
        else:
            raise ReplicationFailed(f"USER_ALL failed: {done.status} {done.text}")
        master = self.master.user(user)
        try:
            if not master.mailboxes and (replica.inbox_missing or not replica.mailboxes):
                # a mistyped name must not pass as replicated
                raise ReplicationFailed("no mailbox on either end: check the name")
            inbox = "user." + user
            theirs = next((m for m in replica.mailboxes if m.name == inbox), None)
            ours = master.mailboxes.get(inbox)
            if replica.inbox_missing or theirs is None or (
                    ours is not None and theirs.uniqueid != ours.box.uniqueid):
                self.request([b"RESET", astring(user)], write=True)
                replica = ReplicaState()
            if master.quota is not None and master.quota != replica.quota:
                self.request([b"SETQUOTA", astring(inbox), b"%d" % master.quota], write=True)
            self.mailboxes_work(user, master, replica, list(master.mailboxes), all_of_user=True)
            self.subscriptions_work(master, replica)
            self.sieve_work(user, master, replica)
        finally:
            self.end_user()

    def end_user(self) -> None:
        if self.session.closed:          # nothing to release: the lock died with the connection
            return
        _, done = self.request([b"ENDUSER"], write=False)
        if done.code == "RESTART":
            self.available.clear()

    # ------------------------------------------------------------------ steps 3–6 of 11.2

    def mailboxes_work(self, user: str, master: MasterUser, replica: ReplicaState,
                       names: list[str], *, all_of_user: bool) -> None:
        self.reserve_pass(master, replica, names)
        theirs_by_uid = replica.by_uniqueid()
        ours_by_uid = master.by_uniqueid()

        # Step 4: replica folders with no master counterpart go; moved ones are renamed.
        renames = []
        for box in list(replica.mailboxes):
            ours = ours_by_uid.get(box.uniqueid)
            if ours is None:
                self.request([b"DELETE", astring(box.name)], write=True)
                replica.mailboxes.remove(box)
            elif ours.box.name != box.name:
                renames.append((box.name, ours.box.name))
        self.rename_all(renames, replica)
        theirs_by_uid = replica.by_uniqueid()

        # Step 6: each master mailbox, in the order given.
        for name in names:
            ours = master.mailboxes.get(name)
            if ours is None:
                continue            # vanished on the master; its replica copy went in step 4
            theirs = theirs_by_uid.get(ours.box.uniqueid)
            if theirs is not None:
                if theirs.acl != ours.box.acl:
                    self.request([b"SETACL", astring(name), astring(ours.box.acl)], write=True)
                self.mailbox_work(user, ours, theirs, created=False)
            else:
                self.request([b"CREATE", astring(name), astring(ours.box.uniqueid),
                              astring(ours.box.acl), b"0", b"%d" % ours.box.uidvalidity],
                             write=True)
                empty = Mailbox(name, ours.box.uniqueid, ours.box.acl, 0, 0)
                self.mailbox_work(user, ours, empty, created=True)

    def reserve_pass(self, master: MasterUser, replica: ReplicaState, names: list[str]) -> None:
        """Stage on the replica every body it already holds that the master will need,
        before anything is expunged there."""
        holders: dict[str, list[Mailbox]] = {}
        for box in replica.mailboxes:
            for message in box.messages:
                if not is_null_guid(message.guid):
                    holders.setdefault(message.guid, []).append(box)
        theirs_by_uid = replica.by_uniqueid()
        wanted: set[str] = set()
        for name in names:
            ours = master.mailboxes.get(name)
            if ours is None:
                continue
            theirs = theirs_by_uid.get(ours.box.uniqueid)
            have = {(m.uid, m.guid) for m in theirs.messages} if theirs is not None else set()
            for message in ours.box.messages:
                if (message.uid, message.guid) not in have and message.guid in holders \
                        and message.guid not in self.available:
                    wanted.add(message.guid)
        if not wanted:
            return
        # GUIDs held in one mailbox only are reserved there first; then the mailboxes
        # holding the most of what is left (the 2005 code sorted ascending, by mistake).
        order: list[Mailbox] = []
        for guid in sorted(wanted):
            if len({id(b) for b in holders[guid]}) == 1 and holders[guid][0] not in order:
                order.append(holders[guid][0])
        pending = set(wanted)
        for box in order:
            self.reserve_in(box, pending)
        while pending:
            counts = [(sum(1 for m in b.messages if m.guid in pending), i, b)
                      for i, b in enumerate(replica.mailboxes)]
            counts = [c for c in counts if c[0]]
            if not counts:
                break
            _, _, box = max(counts, key=lambda c: (c[0], -c[1]))
            self.reserve_in(box, pending)

    def reserve_in(self, box: Mailbox, pending: set[str]) -> None:
        guids = []
        for message in box.messages:              # in the mailbox's UID order
            if message.guid in pending and message.guid not in guids:
                guids.append(message.guid)
        if not guids:
            return
        pending.difference_update(guids)
        events, _ = self.request([b"RESERVE", astring(box.name)] + [g.encode() for g in guids],
                                 write=False)
        self.available.update(e.guid for e in events if isinstance(e, Reserved))

    def rename_all(self, renames: list[tuple[str, str]], replica: ReplicaState) -> None:
        """Renames ordered so that none targets a name still in use; a cycle is an error."""
        in_use = {b.name for b in replica.mailboxes}
        pending = list(renames)
        while pending:
            ready = [r for r in pending if r[1] not in in_use]
            if not ready:
                raise ReplicationFailed("rename cycle: " + ", ".join(f"{a} -> {b}" for a, b in pending))
            for old, new in ready:
                self.request([b"RENAME", astring(old), astring(new)], write=True)
                in_use.discard(old)
                in_use.add(new)
                for box in replica.mailboxes:
                    if box.name == old:
                        box.name = new
                pending.remove((old, new))

    # ------------------------------------------------------------------ one mailbox

    def mailbox_work(self, user: str, ours: MasterMailbox, theirs: Mailbox, *, created: bool) -> None:
        master = ours.box
        selected = False

        def select() -> None:
            nonlocal selected
            if selected:
                return
            # In a dry run a folder "created" a moment ago does not exist: not sent either.
            _, done = self.request([b"SELECT", astring(master.name)], write=created)
            info = done.data
            if isinstance(info, SelectInfo) and info.uniqueid != master.uniqueid:
                raise ReplicationFailed(f"{master.name}: mailbox moved (uniqueid {info.uniqueid})")
            selected = True

        their_messages = {m.uid: m for m in theirs.messages}
        our_uids = {m.uid for m in master.messages}

        # a: flags of messages both ends hold
        pairs = []
        for message in master.messages:
            other = their_messages.get(message.uid)
            if other is not None and other.guid == message.guid and \
                    canonical_flags(other.flags) != canonical_flags(message.flags):
                pairs += [b"%d" % message.uid, flag_list(ordered_flags(message.flags))]
        if pairs:
            select()
            self.request([b"SETFLAGS"] + pairs, write=True)

        # b: what the master no longer has
        gone = sorted(uid for uid in their_messages if uid not in our_uids)
        if gone:
            select()
            self.request([b"EXPUNGE"] + [b"%d" % uid for uid in gone], write=True)

        # c / c': what the replica lacks, or uidlast alone
        missing = [m for m in master.messages
                   if m.uid not in their_messages or their_messages[m.uid].guid != m.guid]
        if missing:
            select()
            self.upload(ours, missing)
        elif created or theirs.uidlast != master.uidlast:
            select()
            self.request([b"UIDLAST", b"%d" % master.uidlast, b"%d" % (master.last_appenddate or 0)],
                         write=True)

        # d: seen state, when the master's is newer
        seen = ours.seen
        if created or seen.lastchange > (theirs.seen_lastchange or 0) or (
                theirs.last_recent_uid is not None and seen.last_recent_uid > theirs.last_recent_uid):
            select()
            self.request([b"SETSEEN", astring(user), b"%d" % seen.lastread,
                          b"%d" % seen.last_recent_uid, b"%d" % seen.lastchange,
                          astring(seen.seenuids)], write=True)

    def upload(self, ours: MasterMailbox, missing: list[Message]) -> None:
        box = ours.box
        batch: list[bytes] = []
        size = 0
        for message in missing:
            item = self.upload_item(ours, message)
            batch.append(item)
            size += len(item)
            if len(batch) >= MAX_BATCH_ITEMS or size >= MAX_BATCH_BYTES:
                self.request([b"UPLOAD", b"%d" % box.uidlast, b"%d" % (box.last_appenddate or 0)]
                             + batch, write=True)
                batch, size = [], 0
        if batch:
            self.request([b"UPLOAD", b"%d" % box.uidlast, b"%d" % (box.last_appenddate or 0)]
                         + batch, write=True)

    def upload_item(self, ours: MasterMailbox, message: Message) -> bytes:
        fields = [message.guid.encode(), b"%d" % message.uid, b"%d" % message.internaldate,
                  b"%d" % message.sentdate, b"%d" % message.last_updated,
                  flag_list(ordered_flags(message.flags))]
        if not is_null_guid(message.guid) and message.guid in self.available:
            return b" ".join([b"COPY"] + fields)
        hdrsize, lines, cache_version, cache, body = self.master.upload_parts(ours.store_id,
                                                                              message.uid)
        if not is_null_guid(message.guid):
            self.available.add(message.guid)
        return (b" ".join([b"PARSED"] + fields + [b"%d" % hdrsize, b"%d" % lines,
                                                   b"%d" % cache_version])
                + b" " + literal(cache or b"") + literal(body))

    # ------------------------------------------------------------------ user mode extras

    def subscriptions_work(self, master: MasterUser, replica: ReplicaState) -> None:
        theirs = set(replica.subscriptions)
        ours = set(master.subscriptions)
        for name in master.subscriptions:
            if name not in theirs:
                self.request([b"ADDSUB", astring(name)], write=True)
        for name in replica.subscriptions:
            if name not in ours:
                self.request([b"DELSUB", astring(name)], write=True)

    def sieve_work(self, user: str, master: MasterUser, replica: ReplicaState) -> None:
        theirs = {s.name: s for s in replica.sieve}
        ours = {s.name: s for s in master.sieve}
        for script in master.sieve:
            other = theirs.get(script.name)
            if other is None or other.mtime < script.mtime:
                body = self.master.sieve_script(user, script.name) or b""
                self.request([b"UPLOAD_SIEVE", astring(script.name), b"%d" % script.mtime,
                              literal(body)], write=True)
        for script in replica.sieve:
            if script.name not in ours:
                self.request([b"DELETE_SIEVE", astring(script.name)], write=True)
        active = next((s.name for s in master.sieve if s.active), None)
        their_active = next((s.name for s in replica.sieve if s.active and s.name in ours), None)
        if active is not None and active != their_active:
            self.request([b"ACTIVATE_SIEVE", astring(active)], write=True)
        elif active is None and any(s.active for s in replica.sieve):
            self.request([b"DEACTIVATE_SIEVE"], write=True)


def _shown(line: bytes) -> str:
    """A command as the dry run shows it: literal payloads summarised, not printed."""
    out = []
    rest = line
    while True:
        start = rest.find(b"{")
        end = rest.find(b"+}\r\n", start) if start >= 0 else -1
        size = rest[start + 1:end] if end > start else b""
        if start < 0 or end < 0 or not size.isdigit():
            out.append(rest)
            break
        n = int(size)
        out.append(rest[:start] + b"{%d+}<%d bytes>" % (n, n))
        rest = rest[end + 4 + n:]
    return b"".join(out).decode("utf-8", "replace")

