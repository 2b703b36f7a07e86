"""The master side of replicate: its own mailstore, read the way sync_client read its local
spool, into the shared data model (plus what only the master side needs: bodies, cache
records, per-user seen records)."""

from __future__ import annotations

from dataclasses import dataclass, field

from syncsh.model import Mailbox, Message, SeenState, SieveScript
from syncsh.server.store import Store


@dataclass
class MasterMailbox:
    box: Mailbox                  # messages carry internaldate, sentdate, last_updated
    seen: SeenState               # the user's seen record for it (empty if none)
    store_id: int


@dataclass
class MasterUser:
    user: str
    mailboxes: dict[str, MasterMailbox] = field(default_factory=dict)   # by name, INBOX first
    subscriptions: list[str] = field(default_factory=list)
    sieve: list[SieveScript] = field(default_factory=list)
    quota: int | None = None

    def by_uniqueid(self) -> dict[str, MasterMailbox]:
        return {m.box.uniqueid: m for m in self.mailboxes.values()}


class MasterStore:
    def __init__(self, directory: str) -> None:
        self.store = Store(directory)

    def close(self) -> None:
        self.store.close()

    def mailbox(self, name: str, user: str) -> MasterMailbox | None:
        row = self.store.mailbox(name)
        if row is None:
            return None
        messages = [Message(uid, guid, tuple(flags.split()), internaldate, sentdate, updated, size)
                    for uid, guid, flags, internaldate, sentdate, updated, size in
                    self.store.db.execute(
                        "SELECT uid, guid, flags, internaldate, sentdate, last_updated, size"
                        " FROM message WHERE mailbox = ? ORDER BY uid", (row.id,))]
        box = Mailbox(row.name, row.uniqueid, row.acl, row.uidlast, uidvalidity=row.uidvalidity,
                      last_appenddate=row.last_appenddate, messages=messages)
        seen = SeenState(*self.store.seen(user, row.id))
        box.seen_lastchange = seen.lastchange
        box.last_recent_uid = seen.last_recent_uid
        return MasterMailbox(box, seen, row.id)

    def user(self, user: str) -> MasterUser:
        """Everything the master has for one user (user mode)."""
        with self.store.read():
            state = MasterUser(user)
            for name in self.store.user_mailbox_names(user):
                state.mailboxes[name] = self.mailbox(name, user)
            state.subscriptions = self.store.subscriptions(user)
            state.sieve = [SieveScript(n, m, bool(a)) for n, m, a in self.store.sieve_scripts(user)]
            state.quota = self.store.quota("user." + user)
        return state

    def mailboxes(self, user: str, names: list[str]) -> MasterUser:
        """The named mailboxes of one user, as they are now (mailbox mode)."""
        with self.store.read():
            state = MasterUser(user)
            for name in names:
                found = self.mailbox(name, user)
                if found is not None:
                    state.mailboxes[name] = found
        return state

    def upload_parts(self, store_id: int, uid: int):
        """(header size, lines, cache version, cache, body) of one message."""
        return self.store.db.execute(
            "SELECT m.hdrsize, m.lines, m.cache_version, m.cache, b.data FROM message m"
            " JOIN body b ON b.id = m.body WHERE m.mailbox = ? AND m.uid = ?",
            (store_id, uid)).fetchone()

    def sieve_script(self, user: str, name: str) -> bytes | None:
        return self.store.sieve_script(user, name)
