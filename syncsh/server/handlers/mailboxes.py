"""Mailboxes: selection, STATUS and INFO, CREATE/DELETE/RENAME, ACLs, LIST, subscriptions
and quota."""

from __future__ import annotations

from syncsh.model import mailbox_uniqueid
from syncsh.printable import printable
from syncsh.protocol.wire import astring
from syncsh.server.args import Args, No
from syncsh.server.common import OUT, TRACE, UNIQUEID, shown, valid_mailbox_name
from syncsh.server.registry import command


@command("SELECT")
def select(s, a: Args):
    name = a.astring()
    a.end()
    yield s.trace(f"SELECT {name}")
    s.selected = None
    s.need_user("No user selected")
    box = s.store.mailbox(name) if valid_mailbox_name(name) else None
    if box is None:
        reason = "Mailbox does not exist" if valid_mailbox_name(name) else "Invalid mailbox name"
        raise No(f'Failed to select mailbox {shown(name, quoted=True)}: {reason}')
    lastread, last_recent, lastchange, _ = s.store.seen(s.user, box.id)
    s.selected = box
    reply = b"OK %s %d %d" % (box.uniqueid.encode(), box.uidlast, lastchange)
    if s.dialect == "2005":
        reply += b" %d" % last_recent
    yield OUT, reply + b"\r\n"


@command("STATUS")
def status(s, a: Args):
    a.end()
    yield s.trace("STATUS")
    s.need_mailbox()
    with s.store.read():
        box = s.reload_selected()
        yield from s.message_lines(box.id)
    yield OUT, b"OK %d\r\n" % box.uidlast


@command("INFO")
def info(s, a: Args):
    a.end()
    yield s.trace("INFO")
    s.need_mailbox()
    box = s.reload_selected()
    yield OUT, b"OK %d %d (%s)\r\n" % (box.uidvalidity, box.uidlast,
                                       " ".join(box.userflags).encode())


@command("CREATE")
def create(s, a: Args):
    name = a.astring()
    uniqueid = a.astring()
    acl = a.astring()
    mbtype = a.number()
    uidvalidity = a.number()
    a.end()
    user = s.need_user()
    if uniqueid == "NIL":
        uniqueid = mailbox_uniqueid(name, uidvalidity)
    if acl == "NIL":
        acl = f"{user}\tlrswipcda\tanonymous\t0\t"
    yield s.trace(f"CREATE {name} {uniqueid}")
    yield TRACE, f'          "{printable(acl)}" {mbtype} {uidvalidity}'
    if not valid_mailbox_name(name) or not UNIQUEID.match(uniqueid):
        what = "Invalid mailbox name" if not valid_mailbox_name(name) else "Invalid uniqueid"
        raise No(f"Create {shown(name)} failed: {what}")
    with s.committed(f"Create {shown(name)} failed"):
        s.store.create_mailbox(name, uniqueid, acl, mbtype, uidvalidity)
    yield OUT, b"OK Create completed\r\n"


@command("DELETE")
def delete(s, a: Args):
    name = a.astring()
    a.end()
    yield s.trace(f"DELETE {name}")
    s.need_user()
    with s.committed(f"Failed to delete {shown(name)}"):
        s.store.delete_mailbox(name)
    if s.selected is not None and s.selected.name == name:
        s.selected = None
    yield OUT, b"OK Delete completed\r\n"


@command("RENAME")
def rename(s, a: Args):
    old = a.astring()
    new = a.astring()
    a.end()
    yield s.trace(f"RENAME {old} {new}")
    s.need_user()
    if not valid_mailbox_name(new):
        raise No(f"Rename failed {shown(old)} -> {shown(new)}: Invalid mailbox name")
    with s.committed(f"Rename failed {shown(old)} -> {shown(new)}"):
        s.store.rename_mailbox(old, new)
    if s.selected is not None and s.selected.name == old:
        s.selected.name = new
    yield OUT, b"OK Rename completed\r\n"


@command("SETACL")
def setacl(s, a: Args):
    name = a.astring()
    acl = a.astring()
    a.end()
    if acl and not acl.endswith("\t") or acl.count("\t") % 2:
        raise No(f"SetAcl Failed for {shown(name)}: Invalid ACL")
    with s.committed(f"SetAcl Failed for {shown(name)}"):
        s.store.set_acl(name, acl)
    yield s.trace(f'SETACL {name} "{acl}"')
    yield OUT, b"OK SetAcl Suceeded\r\n"


@command("LIST")
def list(s, a: Args):
    a.end()
    yield s.trace("LIST")
    user = s.need_user()
    with s.store.read():
        for name in s.store.user_mailbox_names(user):
            box = s.store.mailbox(name)
            yield OUT, b"* %s %s %s\r\n" % (box.uniqueid.encode(), astring(box.name),
                                            astring(box.acl))
    yield OUT, b"OK List completed\r\n"


@command("LSUB")
def lsub(s, a: Args):
    a.end()
    yield s.trace("LSUB")
    user = s.need_user()
    for name in s.store.subscriptions(user):
        yield OUT, b"* %s\r\n" % astring(name)
    yield OUT, b"OK Lsub completed\r\n"


@command("ADDSUB")
def addsub(s, a: Args):
    name = a.astring()
    a.end()
    yield s.trace(f"ADDSUB {name}")
    user = s.need_user()
    if not valid_mailbox_name(name):
        raise No(f"Addsub {shown(name)} failed: Invalid mailbox name")
    with s.store.write():
        s.store.subscribe(user, name)
    yield OUT, b"OK Addsub completed\r\n"


@command("DELSUB")
def delsub(s, a: Args):
    name = a.astring()
    a.end()
    yield s.trace(f"DELSUB {name}")
    user = s.need_user()
    with s.store.write():
        s.store.unsubscribe(user, name)
    yield OUT, b"OK Delsub completed\r\n"


@command("QUOTA")
def quota(s, a: Args):
    root = a.astring()
    a.end()
    yield s.trace(f"QUOTA {root}")
    yield OUT, b"OK %d\r\n" % (s.store.quota(root) or 0)


@command("SETQUOTA")
def setquota(s, a: Args):
    root = a.astring()
    limit = a.number()
    while not a.at_end:        # the Cambridge expunge limits: accepted, ignored
        a.number()
    yield s.trace(f"SETQUOTA {root} ...")
    if not valid_mailbox_name(root):
        raise No(f"SetQuota failed {shown(root)}: Invalid mailbox name")
    with s.store.write():
        s.store.set_quota(root, limit)
    yield OUT, b"OK SetQuota succeeded\r\n"
