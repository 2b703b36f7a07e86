"""The demo pair: the state the "Replication Examples" document implies (spec 12.1).

``cyrus-1`` is the master, ``cyrus-2`` the replica.  They hold user dpc22's INBOX with the
document's ten messages; they differ only where the document shows them differ: the
replica has uidlast 4151 and seen lastchange 1062945305, the master 4156 and 1062968731.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from syncsh.server.store import NewMessage

# the store is imported where a pair is built or changed: opening the console on an existing
# pair (every start-up) does without sqlite3 and the server's tables until it connects

USER = "dpc22"
INBOX = "user.dpc22"
UNIQUEID = "6b98205c796c6c61"
UIDVALIDITY = 0x796C6C61      # the low half of the uniqueid: imported from an older store
ACL = "dpc22\tlrswipcda\tanonymous\t0\t"
QUOTA = 100000
NAMES = ("cyrus-1", "cyrus-2")

# uid, guid, flags, internaldate, sender, subject, text
MESSAGES = [
    (1, "000000000000000000000000", (), 1042017600, "Helpdesk <helpdesk@ucs.cam.ac.uk>",
     "Your new mail account",
     "Welcome to the Hermes mail service.\n\nThis message was delivered before message\n"
     "GUIDs were switched on, so it has none.\n"),
    (3697, "0101003f4c56b00545000000", (), 1061974800, "Tony Finch <fanf2@cam.ac.uk>",
     "exim retry rules",
     "The retry rules on ppsw are too aggressive for the\nlist servers; can we back them off?\n"),
    (3919, "0101003f4c56b04b2900000d", (), 1062331200, "Computing Service <cs-news@cam.ac.uk>",
     "Scheduled maintenance: Hermes",
     "Hermes will be unavailable on Sunday between 07:00 and 09:00\nfor a kernel upgrade.\n"),
    (3937, "0101003f4c56b0514900001f", (), 1062410400, "Ken Murchison <ken@oceana.com>",
     "Re: replication and the mailboxes database",
     "I'd rather not take the mailboxes lock from sync_server;\ncan the client order the "
     "renames instead?\n"),
    (4066, "0101003f4c56b07422000002", (), 1062698400, "Rob Siemborski <rjs3@andrew.cmu.edu>",
     "Re: message UUIDs",
     "If the UUID prefix carries the machine id we can keep\nallocation local to each "
     "backend.\n"),
    (4089, "0101003f4c56b07e56000023", ("\\answered",), 1062756000,
     "Steve Hole <steve@example.ac.uk>", "cyrus.cache format question",
     "Is the cache record version bumped on every change\nto the header list?\n"),
    (4118, "0101003f4c56b08328000016", (), 1062842400, "Hermes postmaster <postmaster@cam.ac.uk>",
     "Quota warning for dpc22",
     "Your mailbox is at 81% of its quota.\n"),
    (4131, "0101003f4c56b084d7000002", (), 1062874800, "Tony Finch <fanf2@cam.ac.uk>",
     "Re: exim retry rules",
     "Done; the new rules are live on all four ppsw hosts.\n"),
    (4136, "0101003f4c56b087f3000001", (), 1062907200, "Ken Murchison <ken@oceana.com>",
     "sync_server trace output",
     "Could the -v -v trace go to stderr so that ssh relays it?\n"),
    (4140, "0101003f4c56b08c9d000026", (), 1062939600, "David Carter <dpc22@cam.ac.uk>",
     "notes: replication examples",
     "Remember to write up the user_some / select / upload examples\nfor the doc.\n"),
]

REPLICA = dict(uidlast=4151, appenddate=1062944100,
               seen=(1062945305, 4151, 1062945305, "1,3697:4136"))
MASTER = dict(uidlast=4156, appenddate=1062968700,
              seen=(1062968731, 4156, 1062968731, "1,3697:4140"))
SIEVE = ("filters", 1062800000,
         b'require "fileinto";\r\nif header :contains "subject" "[cyrus-devel]" {\r\n'
         b'  fileinto "INBOX.cyrus";\r\n}\r\n')


def message_body(uid: int, sender: str, subject: str, text: str, internaldate: int) -> bytes:
    from email.utils import formatdate     # only when a pair is built: start-up does not pay
    header = (f"Return-Path: <{sender.split('<')[-1].rstrip('>')}>\r\n"
              f"Received: from ppsw-1.csi.cam.ac.uk by cyrus-1.hermes.cam.ac.uk;"
              f" {formatdate(internaldate)}\r\n"
              f"Date: {formatdate(internaldate - 60)}\r\n"
              f"From: {sender}\r\n"
              f"To: David Carter <dpc22@cam.ac.uk>\r\n"
              f"Subject: {subject}\r\n"
              f"Message-ID: <{uid}.{internaldate}@cam.ac.uk>\r\n"
              f"MIME-Version: 1.0\r\n"
              f"Content-Type: text/plain; charset=us-ascii\r\n")
    return (header + "\r\n" + text.replace("\n", "\r\n")).encode()


def demo_messages() -> list[NewMessage]:
    from syncsh.server.store import NewMessage
    result = []
    for uid, guid, flags, internaldate, sender, subject, text in MESSAGES:
        body = message_body(uid, sender, subject, text, internaldate)
        hdrsize = body.index(b"\r\n\r\n") + 4
        sentdate = (internaldate - 60) // 86400 * 86400    # Cyrus 2.x: day resolution
        result.append(NewMessage(uid, guid, flags, internaldate, sentdate, internaldate,
                                 body, hdrsize, body.count(b"\n", hdrsize)))
    return result


def write_store(directory: str, state: dict) -> None:
    from syncsh import private
    from syncsh.server.store import Store
    private.ensure_dir(directory)
    store = Store(directory)
    try:
        with store.write():
            store.create_mailbox(INBOX, UNIQUEID, ACL, 0, UIDVALIDITY)
            box = store.mailbox(INBOX)
            store.add_messages(box, demo_messages())
            store.set_uidlast(box, state["uidlast"], state["appenddate"])
            store.set_seen(USER, box.id, *state["seen"])
            store.subscribe(USER, INBOX)
            store.set_quota(INBOX, QUOTA)
            name, mtime, script = SIEVE
            store.put_sieve(USER, name, mtime, script)
            store.activate_sieve(USER, name)
    finally:
        store.close()
    private.tighten_tree(directory)          # a mailstore: its owner's only


def init(directory: str) -> list[str]:
    """Create (or re-create) the pair below ``directory``; return the two store paths."""
    paths = []
    for name, state in zip(NAMES, (MASTER, REPLICA)):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            import shutil          # only when a pair is built: start-up does not pay
            shutil.rmtree(path)
        write_store(path, state)
        paths.append(path)
    return paths


def pair_dir(environ=None) -> str:
    from syncsh.private import data_dir_path
    return os.path.join(data_dir_path(environ), "demo")


def ensure_pair(directory: str | None = None, environ=None) -> str:
    """The user's demo pair (below ``directory``, by default the data directory's), created
    on first use."""
    from syncsh import private
    private.data_dir(environ)                # 0700, before anything is put in it
    directory = directory or pair_dir(environ)
    if not all(os.path.exists(os.path.join(directory, n, "store.sqlite3")) for n in NAMES):
        init(directory)
    return directory


def move_to_new_folder(master_dir: str, uid: int = 4131, folder: str = "user.dpc22.zzz",
                       created: int = 1062971802, seen_change: int = 1062971802) -> None:
    """The master-side change of the document's second transcript (spec 12.2): dpc22 saves
    a message into a new folder, creating it, and it leaves the INBOX; seen state moves on."""
    from syncsh.model import mailbox_uniqueid
    from syncsh.server.store import NewMessage, Store
    store = Store(master_dir)
    try:
        with store.write():
            inbox = store.mailbox(INBOX)
            row = store.db.execute(
                "SELECT m.guid, m.flags, m.internaldate, m.sentdate, m.last_updated, b.data,"
                " m.hdrsize, m.lines FROM message m JOIN body b ON b.id = m.body"
                " WHERE m.mailbox = ? AND m.uid = ?", (inbox.id, uid)).fetchone()
            guid, flags, internaldate, sentdate, updated, body, hdrsize, lines = row
            store.create_mailbox(folder, mailbox_uniqueid(folder, created), ACL, 0, created)
            box = store.mailbox(folder)
            store.add_messages(box, [NewMessage(1, guid, tuple(flags.split()), internaldate,
                                                sentdate, updated, body, hdrsize, lines)])
            store.set_uidlast(box, 1, created)
            store.expunge(inbox, [uid])
            lastread, last_recent, _, seenuids = store.seen(USER, inbox.id)
            store.set_seen(USER, inbox.id, seen_change, last_recent, seen_change, seenuids)
            store.set_seen(USER, box.id, seen_change, 1, seen_change, "1")
            store.subscribe(USER, folder)
    finally:
        store.close()


# ---------------------------------------------------------------------- snapshots
# A recording made on a demo pair that is no longer as created carries a copy of it, so that
# replay starts from the same state (%setup snapshot DIR).

STORE_FILE = "store.sqlite3"


def _dump(store_dir: str) -> list[str]:
    import sqlite3
    db = sqlite3.connect(f"file:{os.path.join(store_dir, STORE_FILE)}?mode=ro", uri=True)
    try:
        return list(db.iterdump())
    finally:
        db.close()


def is_pristine(directory: str) -> bool:
    """Whether the pair below ``directory`` holds exactly what ``init`` makes (the stores
    are built deterministically, so their SQL dumps compare)."""
    import shutil
    import tempfile
    fresh = tempfile.mkdtemp(prefix="syncsh-pristine-")
    try:
        init(fresh)
        return all(_dump(os.path.join(directory, name)) == _dump(os.path.join(fresh, name))
                   for name in NAMES)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


def snapshot(directory: str, dest: str) -> None:
    """Copy both stores of the pair (consistently, through SQLite's backup) below ``dest``."""
    import sqlite3
    for name in NAMES:
        os.makedirs(os.path.join(dest, name), mode=0o700, exist_ok=True)
        target = os.path.join(dest, name, STORE_FILE)
        if os.path.exists(target):
            os.unlink(target)
        source = sqlite3.connect(f"file:{os.path.join(directory, name, STORE_FILE)}?mode=ro",
                                 uri=True)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            source.close()
            copy.close()
        os.chmod(target, 0o600)


def restore(snapshot_dir: str, directory: str) -> None:
    """Make the pair below ``directory`` what ``snapshot`` saved."""
    import shutil
    for name in NAMES:
        source = os.path.join(snapshot_dir, name, STORE_FILE)
        if not os.path.isfile(source):
            from syncsh.errors import SyncshError
            raise SyncshError(f"{snapshot_dir}: no {name}/{STORE_FILE} in this snapshot")
        if os.path.exists(os.path.join(directory, name)):
            shutil.rmtree(os.path.join(directory, name))
        os.makedirs(os.path.join(directory, name))
        shutil.copyfile(source, os.path.join(directory, name, STORE_FILE))
