"""The reference server's mailstore: one SQLite database in WAL mode.

Every protocol command runs in at most one transaction (``with store.write():``), so a
crash never loses what was answered OK nor leaves a command half-applied.  Per-user
replication locks are ``flock`` files beside the database, so they hold across the
separate server processes that separate connections start.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass

from syncsh.errors import StoreUnusable
from syncsh.model import SYSTEM_FLAGS

SCHEMA = """
CREATE TABLE IF NOT EXISTS mailbox (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    uniqueid        TEXT NOT NULL,
    acl             TEXT NOT NULL,
    mbtype          INTEGER NOT NULL DEFAULT 0,
    uidvalidity     INTEGER NOT NULL,
    uidlast         INTEGER NOT NULL DEFAULT 0,
    last_appenddate INTEGER NOT NULL DEFAULT 0,
    userflags       TEXT NOT NULL DEFAULT ''     -- user flag slot table, space separated
);
CREATE TABLE IF NOT EXISTS body (
    id    INTEGER PRIMARY KEY,
    data  BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS message (
    mailbox       INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
    uid           INTEGER NOT NULL,
    guid          TEXT NOT NULL,
    flags         TEXT NOT NULL DEFAULT '',      -- printed form, canonical order
    internaldate  INTEGER NOT NULL,
    sentdate      INTEGER NOT NULL,
    last_updated  INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    hdrsize       INTEGER NOT NULL,
    lines         INTEGER NOT NULL,
    cache_version INTEGER NOT NULL DEFAULT 0,
    cache         BLOB,
    body          INTEGER NOT NULL REFERENCES body(id),
    PRIMARY KEY (mailbox, uid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS message_body ON message(body);
CREATE TABLE IF NOT EXISTS seen (
    user            TEXT NOT NULL,
    mailbox         INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
    lastread        INTEGER NOT NULL,
    last_recent_uid INTEGER NOT NULL,
    lastchange      INTEGER NOT NULL,
    seenuids        TEXT NOT NULL,
    PRIMARY KEY (user, mailbox)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS subscription (
    user TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (user, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sieve (
    user   TEXT NOT NULL,
    name   TEXT NOT NULL,
    mtime  INTEGER NOT NULL,
    script BLOB NOT NULL,
    active INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quota (
    root   TEXT PRIMARY KEY,
    qlimit INTEGER NOT NULL
) WITHOUT ROWID;
"""

MAX_USER_FLAGS = 128


class StoreError(Exception):
    """A command that cannot be applied; the text becomes the reason in the NO reply."""


@dataclass(slots=True)
class MailboxRow:
    id: int
    name: str
    uniqueid: str
    acl: str
    mbtype: int
    uidvalidity: int
    uidlast: int
    last_appenddate: int
    userflags: list[str]


@dataclass(slots=True)
class NewMessage:
    uid: int
    guid: str
    flags: tuple[str, ...]
    internaldate: int
    sentdate: int
    last_updated: int
    body: bytes
    hdrsize: int
    lines: int
    cache_version: int = 0
    cache: bytes | None = None


class Store:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        try:
            os.makedirs(os.path.join(directory, "locks"), exist_ok=True)
            self.db = sqlite3.connect(os.path.join(directory, "store.sqlite3"),
                                      isolation_level=None, timeout=30,
                                      check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA)     # idempotent; executescript commits by itself
        except (sqlite3.Error, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise StoreUnusable(f"cannot open the store in {directory}: {reason}") from None

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def write(self):
        """One transaction: committed whole or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextmanager
    def read(self):
        """A consistent snapshot for a multi-statement read."""
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    # ------------------------------------------------------------------ mailboxes

    def mailbox(self, name: str) -> MailboxRow | None:
        row = self.db.execute(
            "SELECT id, name, uniqueid, acl, mbtype, uidvalidity, uidlast, last_appenddate,"
            " userflags FROM mailbox WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        return MailboxRow(*row[:8], row[8].split())

    def user_mailbox_names(self, user: str) -> list[str]:
        """INBOX first, then every ``user.<user>.*`` folder in name order."""
        inbox = "user." + user
        prefix = inbox + "."
        # a range of the name index ("." + 1 is "/"), not a scan of every mailbox: an
        # audit asks this of every user of the store
        names = [r[0] for r in self.db.execute(
            "SELECT name FROM mailbox WHERE name >= ? AND name < ? ORDER BY name",
            (prefix, inbox + "/"))]
        if self.mailbox(inbox) is not None:
            names.insert(0, inbox)
        return names

    def create_mailbox(self, name, uniqueid, acl, mbtype, uidvalidity) -> None:
        if self.mailbox(name) is not None:
            raise StoreError("Mailbox already exists")
        self.db.execute(
            "INSERT INTO mailbox (name, uniqueid, acl, mbtype, uidvalidity) VALUES (?,?,?,?,?)",
            (name, uniqueid, acl, mbtype, uidvalidity))

    def delete_mailbox(self, name: str) -> None:
        box = self.mailbox(name)
        if box is None:
            raise StoreError("Mailbox does not exist")
        bodies = [r[0] for r in self.db.execute(
            "SELECT body FROM message WHERE mailbox = ?", (box.id,))]
        self.db.execute("DELETE FROM mailbox WHERE id = ?", (box.id,))
        self._drop_orphan_bodies(bodies)

    def rename_mailbox(self, old: str, new: str) -> None:
        if self.mailbox(old) is None:
            raise StoreError("Mailbox does not exist")
        if self.mailbox(new) is not None:
            raise StoreError("Mailbox already exists")
        self.db.execute("UPDATE mailbox SET name = ? WHERE name = ?", (new, old))

    def set_acl(self, name: str, acl: str) -> None:
        if self.db.execute("UPDATE mailbox SET acl = ? WHERE name = ?", (acl, name)).rowcount == 0:
            raise StoreError("Mailbox does not exist")

    def set_uidlast(self, box: MailboxRow, uidlast: int, appenddate: int) -> None:
        """uidlast never goes below a UID the mailbox holds (UIDs would be given twice)."""
        highest = self.db.execute("SELECT MAX(uid) FROM message WHERE mailbox = ?",
                                  (box.id,)).fetchone()[0]
        if highest is not None and uidlast < highest:
            raise StoreError(f"uidlast {uidlast} is below UID {highest}, which the mailbox "
                             "holds")
        self.db.execute("UPDATE mailbox SET uidlast = ?, last_appenddate = ? WHERE id = ?",
                        (uidlast, appenddate, box.id))
        box.uidlast, box.last_appenddate = uidlast, appenddate

    # ------------------------------------------------------------------ messages

    def message_lines(self, box_id: int):
        """(uid, guid, printed flags) in UID order, straight from the index."""
        return self.db.execute(
            "SELECT uid, guid, flags FROM message WHERE mailbox = ? ORDER BY uid", (box_id,))

    def messages_full(self, box_id: int):
        return self.db.execute(
            "SELECT m.uid, m.guid, m.flags, m.internaldate, m.sentdate, m.last_updated,"
            " m.size, b.data FROM message m JOIN body b ON b.id = m.body"
            " WHERE m.mailbox = ? ORDER BY m.uid", (box_id,))

    def message_uids(self, box_id: int) -> set[int]:
        return {r[0] for r in self.db.execute("SELECT uid FROM message WHERE mailbox = ?",
                                              (box_id,))}

    def bodies_by_guid(self, box_id: int):
        return self.db.execute(
            "SELECT m.guid, b.data, m.hdrsize, m.lines FROM message m JOIN body b ON b.id = m.body"
            " WHERE m.mailbox = ? ORDER BY m.uid", (box_id,))

    def learn_flags(self, box: MailboxRow, flags) -> None:
        """Bind new user flag names to slots, in the order first seen."""
        known = set(box.userflags)
        new = [f for f in flags if not f.startswith("\\") and f not in known]
        if not new:
            return
        for flag in new:
            if flag not in known:
                box.userflags.append(flag)
                known.add(flag)
        if len(box.userflags) > MAX_USER_FLAGS:
            raise StoreError("Too many user flags")
        self.db.execute("UPDATE mailbox SET userflags = ? WHERE id = ?",
                        (" ".join(box.userflags), box.id))

    @staticmethod
    def printed_flags(box: MailboxRow, flags) -> str:
        """System flags in the original's order, then user flags in slot order."""
        lowered = {f.lower() for f in flags if f.startswith("\\")}
        user = {f for f in flags if not f.startswith("\\")}
        return " ".join([f for f in SYSTEM_FLAGS if f in lowered]
                        + [f for f in box.userflags if f in user])

    def set_flags(self, box: MailboxRow, pairs, now: int) -> None:
        for uid, flags in pairs:
            self.learn_flags(box, flags)
        for uid, flags in pairs:
            row = self.db.execute("SELECT last_updated FROM message WHERE mailbox = ? AND uid = ?",
                                  (box.id, uid)).fetchone()
            if row is None:
                continue
            updated = now if now > row[0] else row[0] + 1
            self.db.execute("UPDATE message SET flags = ?, last_updated = ? "
                            "WHERE mailbox = ? AND uid = ?",
                            (self.printed_flags(box, flags), updated, box.id, uid))

    def expunge(self, box: MailboxRow, uids) -> None:
        bodies = []
        for uid in uids:
            row = self.db.execute("DELETE FROM message WHERE mailbox = ? AND uid = ? RETURNING body",
                                  (box.id, uid)).fetchone()
            if row:
                bodies.append(row[0])
        self._drop_orphan_bodies(bodies)

    def add_messages(self, box: MailboxRow, messages: list[NewMessage]) -> None:
        """Append, or merge where a UID is taken (the master's version wins)."""
        for message in messages:
            self.learn_flags(box, message.flags)
        if messages and messages[0].uid <= box.uidlast:
            self.expunge(box, [m.uid for m in messages])
        rows = []
        for m in messages:
            body_id = self.db.execute("INSERT INTO body (data) VALUES (?)", (m.body,)).lastrowid
            rows.append((box.id, m.uid, m.guid, self.printed_flags(box, m.flags), m.internaldate,
                         m.sentdate, m.last_updated, len(m.body), m.hdrsize, m.lines,
                         m.cache_version, m.cache, body_id))
        try:
            self.db.executemany("INSERT INTO message VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        except sqlite3.IntegrityError:
            taken = sorted(self.message_uids(box.id) & {m.uid for m in messages})
            raise StoreError(f"UID {taken[0] if taken else '?'} is already in the mailbox, "
                             "above its uidlast") from None

    def _drop_orphan_bodies(self, body_ids) -> None:
        for body_id in body_ids:
            self.db.execute("DELETE FROM body WHERE id = ? AND NOT EXISTS "
                            "(SELECT 1 FROM message WHERE body = ?)", (body_id, body_id))

    def usage_kib(self, root: str) -> int:
        prefix = root + "."
        row = self.db.execute(
            "SELECT COALESCE(SUM(m.size), 0) FROM message m JOIN mailbox x ON x.id = m.mailbox"
            " WHERE x.name = ? OR (x.name >= ? AND x.name < ?)",
            (root, prefix, root + "/")).fetchone()
        return row[0] // 1024

    # ------------------------------------------------------------------ seen state

    def seen(self, user: str, box_id: int):
        """(lastread, last_recent_uid, lastchange, seenuids), zeros when there is none."""
        row = self.db.execute("SELECT lastread, last_recent_uid, lastchange, seenuids FROM seen"
                              " WHERE user = ? AND mailbox = ?", (user, box_id)).fetchone()
        return row or (0, 0, 0, "")

    def set_seen(self, user: str, box_id: int, lastread, last_recent_uid, lastchange, seenuids):
        self.db.execute("INSERT OR REPLACE INTO seen VALUES (?,?,?,?,?,?)",
                        (user, box_id, lastread, last_recent_uid, lastchange, seenuids))

    # ------------------------------------------------------------------ subscriptions, quota

    def subscriptions(self, user: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT name FROM subscription WHERE user = ? ORDER BY name", (user,))]

    def subscribe(self, user: str, name: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO subscription VALUES (?, ?)", (user, name))

    def unsubscribe(self, user: str, name: str) -> None:
        self.db.execute("DELETE FROM subscription WHERE user = ? AND name = ?", (user, name))

    def quota(self, root: str) -> int | None:
        row = self.db.execute("SELECT qlimit FROM quota WHERE root = ?", (root,)).fetchone()
        return row[0] if row else None

    def set_quota(self, root: str, limit: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO quota VALUES (?, ?)", (root, limit))

    # ------------------------------------------------------------------ sieve

    def sieve_scripts(self, user: str):
        """(name, mtime, active) in name order."""
        return self.db.execute("SELECT name, mtime, active FROM sieve WHERE user = ? ORDER BY name",
                               (user,)).fetchall()

    def sieve_script(self, user: str, name: str) -> bytes | None:
        row = self.db.execute("SELECT script FROM sieve WHERE user = ? AND name = ?",
                              (user, name)).fetchone()
        return row[0] if row else None

    def put_sieve(self, user: str, name: str, mtime: int, script: bytes) -> None:
        self.db.execute(
            "INSERT INTO sieve (user, name, mtime, script) VALUES (?,?,?,?) "
            "ON CONFLICT (user, name) DO UPDATE SET mtime = excluded.mtime, script = excluded.script",
            (user, name, mtime, script))

    def activate_sieve(self, user: str, name: str | None) -> None:
        if name is not None and self.sieve_script(user, name) is None:
            raise StoreError("No such script")
        self.db.execute("UPDATE sieve SET active = COALESCE(name = ?, 0) WHERE user = ?", (name, user))

    def delete_sieve(self, user: str, name: str) -> None:
        if self.db.execute("DELETE FROM sieve WHERE user = ? AND name = ?",
                           (user, name)).rowcount == 0:
            raise StoreError("No such script")

    # ------------------------------------------------------------------ whole users

    def holds_user(self, user: str) -> bool:
        """Whether anything of the user is here: a mailbox, a subscription, seen state, a
        sieve script or a quota (each looked up by index)."""
        inbox = "user." + user
        return bool(self.db.execute(
            "SELECT EXISTS (SELECT 1 FROM mailbox WHERE name = ? OR (name >= ? AND name < ?))"
            " OR EXISTS (SELECT 1 FROM subscription WHERE user = ?)"
            " OR EXISTS (SELECT 1 FROM seen WHERE user = ?)"
            " OR EXISTS (SELECT 1 FROM sieve WHERE user = ?)"
            " OR EXISTS (SELECT 1 FROM quota WHERE root = ?)",
            (inbox, inbox + ".", inbox + "/", user, user, user, inbox)).fetchone()[0])

    def reset_user(self, user: str) -> None:
        """Everything the replica has for the user goes (legacy spec 9.20)."""
        self.db.execute("DELETE FROM subscription WHERE user = ?", (user,))
        names = self.user_mailbox_names(user)
        deleted_area = [n for n in names if ".DELETED." in n or n.startswith("DELETED.")]
        inbox = "user." + user
        for name in deleted_area + sorted((n for n in names if n not in deleted_area
                                           and n != inbox), reverse=True):
            self.delete_mailbox(name)
        if inbox in names:
            self.delete_mailbox(inbox)
        self.db.execute("DELETE FROM seen WHERE user = ?", (user,))
        self.db.execute("DELETE FROM sieve WHERE user = ?", (user,))

    def integrity_problems(self) -> list[str]:
        """What an integrity check finds wrong (used by the reliability tests)."""
        problems = [r[0] for r in self.db.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += ["foreign key: %r" % (r,) for r in self.db.execute("PRAGMA foreign_key_check")]
        for name, uid, uidlast in self.db.execute(
                "SELECT x.name, MAX(m.uid), x.uidlast FROM message m JOIN mailbox x"
                " ON x.id = m.mailbox GROUP BY x.id"):
            if uid > uidlast:
                problems.append(f"{name}: UID {uid} above uidlast {uidlast}")
        return problems


class UserLock:
    """The per-user replication lock, shared by every server process on one store.

    Its file may be removed when it is released (``release(remove=True)``: a lock taken
    for a user the store does not hold must leave nothing behind).  So that a session
    waiting on the removed file cannot hold it alongside one that made a new file under
    the same name, ``acquire`` opens the name afresh at every try and keeps a lock only
    when its file is still the one the name leads to."""

    def __init__(self, directory: str, user: str) -> None:
        self.user = user
        self.path = os.path.join(directory, "locks", user.encode("utf-8", "surrogateescape").hex())
        self.fd: int | None = None

    def acquire(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.005
        while not self._try_lock():
            if time.monotonic() >= deadline:
                raise StoreError("held by another session (gave up after %gs)" % timeout)
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _try_lock(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise StoreError(exc.strerror) from None
            return False
        if not self._still_named(fd):      # its holder removed it as we waited: try again
            os.close(fd)
            return False
        self.fd = fd
        return True

    def _still_named(self, fd: int) -> bool:
        try:
            named = os.stat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)

    def release(self, *, remove: bool = False) -> None:
        if self.fd is not None:
            if remove:                     # while still held (see the class's note)
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
