"""Every next step `diff` gives, proven on a real Cyrus 3.6 pair.

One fresh user per scenario: the pair is made to diverge by hand (IMAP on either end, a
csync write, a spool file), `diff` must name the cause, the test then does exactly what
the report says (the command it gives, or its manual procedure) and `diff` must say
identical; the messages live anywhere before and live nowhere after must be exactly the
ones the step announced it would lose."""

import imaplib
import json
import os
import re
import shlex
import subprocess

import pytest

from conftest import syncsh, diff_report
from test_csync import fresh_user

imaplib.Commands.setdefault("SETMETADATA", ("AUTH", "SELECTED"))
MESSAGE = b"From: x@example.org\r\nSubject: made on %s\r\n\r\nbody %s\r\n"


def imap(cyrus, user, side, password="secret"):
    conn = imaplib.IMAP4("127.0.0.1", cyrus.master_imap if side == "master" else cyrus.replica_imap)
    conn.login(user, password)
    return conn


def ends(cyrus):
    return f"unix:{cyrus.master_socket}", f"unix:{cyrus.replica_socket}"


def diff(cyrus, *users, full=False):
    args = [a for u in users for a in ("--user", u)] + (["--full"] if full else [])
    proc = syncsh("diff", *ends(cyrus), *args, "--format", "json")
    assert proc.returncode in (0, 1), proc.stdout.decode() + proc.stderr.decode()
    return proc.returncode, diff_report(proc.stdout)


def causes(report):
    return [(f["mailbox"], f["kind"]) for f in report["findings"] if not f["consequence"]]


def live(cyrus, *users):
    """{(mailbox, uid, guid)} of live messages on either end (DELETED.* folders are not live)."""
    from syncsh.connect import open_session
    from syncsh.model import Mailbox, Message, MessageBatch
    from syncsh.targets import parse_target
    found = set()
    for target in ends(cyrus):
        session = open_session(parse_target(target), timeout=30, learn=False)
        try:
            for user in users:
                events, _ = session.run(f"GET USER {user}".encode())
                for box in [e for e in events if isinstance(e, Mailbox)]:
                    if box.name.startswith("DELETED."):
                        continue
                    listing, _ = session.run(f"GET FULLMAILBOX {box.name}".encode())
                    for event in listing:
                        batch = [event] if isinstance(event, Message) else \
                            event if isinstance(event, MessageBatch) else ()
                        for message in batch:
                            if "\\Expunged" not in message.flags:
                                found.add((box.name, message.uid, message.guid))
        finally:
            session.close()
    return found


def state(cyrus, users, side):
    """What one end holds for the users, as a set: live messages by GUID with their flags
    and annotations, folders with ACL and annotations, quota, subscriptions, sieve, seen.
    The side a step says wins must come out of the repair with this unchanged."""
    from syncsh.connect import open_session
    from syncsh.diff.compare import INTERNAL_ANNOTATIONS, mailbox_annotations
    from syncsh.model import Mailbox, Message, MessageBatch, SieveScript
    from syncsh.protocol.csync_events import Quota, Seen
    from syncsh.protocol.events import Subscription
    from syncsh.targets import parse_target
    target = ends(cyrus)[0 if side == "master" else 1]
    found = set()
    session = open_session(parse_target(target), timeout=30, learn=False)
    try:
        for user in users:
            events, _ = session.run(f"GET USER {user}".encode())
            for event in events:
                if isinstance(event, Quota):
                    found.add(("quota", event.root, event.limit, event.resources))
                elif isinstance(event, Subscription):
                    found.add(("subscribed", user, event.name))
                elif isinstance(event, SieveScript):
                    found.add(("sieve", user, event.name, event.active))
                elif isinstance(event, Seen):
                    found.add(("seen", user, event.uniqueid, event.seenuids))
            for box in [e for e in events if isinstance(e, Mailbox)]:
                if box.name.startswith("DELETED."):
                    continue
                notes = tuple(sorted((e, u, v) for e, u, _, v in mailbox_annotations(box)))
                found.add(("folder", box.name, box.acl, notes))
                listing, _ = session.run(f"GET FULLMAILBOX {box.name}".encode())
                for event in listing:
                    batch = [event] if isinstance(event, Message) else \
                        event if isinstance(event, MessageBatch) else ()
                    for m in batch:
                        if "\\Expunged" in m.flags:
                            continue
                        flags = tuple(sorted(f.lower() if f.startswith("\\") else f
                                             for f in m.flags if f.lower() != "\\recent"))
                        notes = tuple(sorted((e, u, v) for e, u, _, v in m.annotations
                                             if e not in INTERNAL_ANNOTATIONS))
                        found.add(("message", box.name, m.guid, flags, notes))
    finally:
        session.close()
    return found


def winner(report):
    """The end every step says wins (its state is what both hold afterwards), or None."""
    steps = report["next_steps"]
    flows = {flow for step in steps for flow in step["flow"]}
    if not steps or any(not step["command"] for step in steps) or len(flows) != 1:
        return None
    return {"master → replica": "master", "replica → master": "replica"}.get(flows.pop())


def run_command(cyrus, argv):
    assert argv[0] == "sync_client", argv
    proc = cyrus.sync(*argv[1:])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def run_syncsh(line):
    argv = shlex.split(line)
    assert argv[0] == "syncsh"
    proc = syncsh(*argv[1:])
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    return proc.stdout.decode()


def after_colon(line):
    return line.split(": ", 1)[1]


def copy_folder_to_master(cyrus, user, folder):
    """Procedure step: the replica folder's messages APPENDed to the master's, bytes intact."""
    source = imap(cyrus, user, "replica")
    source.select(folder, readonly=True)
    _, data = source.uid("FETCH", "1:*", "(BODY.PEEK[])")
    source.logout()
    target = imap(cyrus, user, "master")
    target.create(folder)
    for item in data:
        if isinstance(item, tuple):
            assert target.append(folder, None, None, item[1])[0] == "OK"
    target.logout()


def follow(cyrus, step, users):
    """Do what a next step says: its command, or each line of its manual procedure."""
    if step["command"]:
        run_command(cyrus, step["argv"])
        return
    assert step["procedure"], step
    for line in step["procedure"]:
        if line.startswith("sync_client"):
            run_command(cyrus, shlex.split(line.split(" (")[0]))
        elif "APPLY UNMAILBOX" in line or line.startswith("save the script"):
            run_syncsh(after_colon(line))
        elif "copy its" in line or "copy the" in line and "over IMAP" in line:
            user, folder = re.search(r"as (\S+), .*?(user\.\S+)", line).groups()
            copy_folder_to_master(cyrus, user, folder.replace("user." + user, "INBOX", 1))
        elif line.startswith("upload it to the master"):
            user = line.split(" as ")[1].split()[0]
            script = step["_script"]
            run_syncsh(shlex.join(["syncsh", ends(cyrus)[0], "--allow-writes", "-c",
                                   f"APPLY SIEVE %(USERID {user} FILENAME {script} "
                                   'LAST_UPDATE 1700000000 CONTENT "keep;")']))
        elif line.startswith("as ") and "\\Seen" in line:
            reader, uids, mailbox = re.match(r"as (\S+) on the master, mark UIDs (\S+) of (\S+)",
                                             line).groups()
            conn = imap(cyrus, reader, "master")
            assert conn.select(mailbox)[0] == "OK"
            assert conn.uid("STORE", uids, "+FLAGS", "(\\Seen)")[0] == "OK"
            conn.logout()
        elif line.startswith("on the master, find the good file"):
            mailbox, uid = re.search(r"mbpath (\S+) gives the folder, the file is (\d+)\.",
                                     line).groups()
            good = mbpath(cyrus.master_conf, mailbox)
            bad = mbpath(cyrus.replica_conf, mailbox)
            step["_copy"] = (os.path.join(good, f"{uid}."), os.path.join(bad, f"{uid}."))
        elif line.startswith("copy it over"):
            source, target = step["_copy"]
            with open(source, "rb") as good, open(target, "wb") as bad:
                bad.write(good.read())
        elif line.startswith("reconstruct -G"):
            mailbox = line.split()[2]
            proc = subprocess.run(["/usr/lib/cyrus/bin/reconstruct", "-C", cyrus.replica_conf,
                                   "-G", mailbox], capture_output=True, text=True, timeout=60)
            assert "mismatch" not in proc.stdout + proc.stderr
        else:
            raise AssertionError(f"a procedure step the test cannot follow: {line}")


def mbpath(conf, mailbox):
    proc = subprocess.run(["/usr/lib/cyrus/bin/mbpath", "-C", conf, mailbox],
                          capture_output=True, text=True, timeout=30, check=True)
    return proc.stdout.strip()


# ---------------------------------------------------------------------- the divergences

def store(side, flag, uid="1"):
    def make(cyrus, user):
        conn = imap(cyrus, user, side)
        conn.select("INBOX")
        assert conn.uid("STORE", uid, "+FLAGS", f"({flag})")[0] == "OK"
        conn.logout()
    return make


def expunge(side):
    def make(cyrus, user):
        conn = imap(cyrus, user, side)
        conn.select("INBOX")
        conn.uid("STORE", "2", "+FLAGS", "(\\Deleted)")
        conn.expunge()
        conn.logout()
    return make


def append(*sides):
    def make(cyrus, user):
        for side in sides:
            conn = imap(cyrus, user, side)
            assert conn.append("INBOX", None, None, MESSAGE % (side.encode(), user.encode()))[0] == "OK"
            conn.logout()
    return make


def folder(cyrus, user, side, name="INBOX.Work", messages=1):
    conn = imap(cyrus, user, side)
    assert conn.create(name)[0] == "OK"
    for n in range(messages):
        conn.append(name, None, None, MESSAGE % (side.encode(), f"{user} {n}".encode()))
    conn.logout()


def folder_on_master(cyrus, user):
    folder(cyrus, user, "master")


def folder_on_replica(cyrus, user):
    folder(cyrus, user, "replica")


def synced_folder(cyrus, user):
    folder(cyrus, user, "master", messages=2)
    assert cyrus.sync(user).returncode == 0


def deleted_on_replica(cyrus, user):
    synced_folder(cyrus, user)
    conn = imap(cyrus, user, "replica")
    assert conn.delete("INBOX.Work")[0] == "OK"
    conn.logout()


def deleted_on_master(cyrus, user):
    synced_folder(cyrus, user)
    conn = imap(cyrus, user, "master")
    assert conn.delete("INBOX.Work")[0] == "OK"
    conn.logout()


def renamed_on_master(cyrus, user):
    synced_folder(cyrus, user)
    conn = imap(cyrus, user, "master")
    assert conn.rename("INBOX.Work", "INBOX.Projects")[0] == "OK"
    conn.logout()


def recreated_on_replica(cyrus, user):
    synced_folder(cyrus, user)
    conn = imap(cyrus, user, "replica")
    assert conn.delete("INBOX.Work")[0] == "OK"
    conn.logout()
    folder(cyrus, user, "replica")


def created_on_both_ends(cyrus, user):
    folder(cyrus, user, "master")
    folder(cyrus, user, "replica")


def recreated_on_master(cyrus, user):
    synced_folder(cyrus, user)
    conn = imap(cyrus, user, "master")
    assert conn.delete("INBOX.Work")[0] == "OK"
    conn.logout()
    folder(cyrus, user, "master")


def several_at_once(cyrus, user):
    """A replica used as a master for a while: a flag, an expunge, an append racing one on
    the master, a new folder; the steps together must repair it all."""
    store("replica", "\\Flagged", uid="1")(cyrus, user)
    expunge("replica")(cyrus, user)
    append("master", "replica")(cyrus, user)
    folder_on_replica(cyrus, user)


def acl_on_replica(cyrus, user):
    conn = imap(cyrus, user, "replica")
    assert conn.setacl("INBOX", "anyone", "lr")[0] == "OK"
    conn.logout()


def subscription_on_replica(cyrus, user):
    synced_folder(cyrus, user)
    conn = imap(cyrus, user, "replica")
    assert conn.subscribe("INBOX.Work")[0] == "OK"
    conn.logout()


def quota_on_master(cyrus, user):
    conn = imap(cyrus, "admin", "master")
    assert conn.setquota(f"user.{user}", "(STORAGE 20000 MESSAGE 500)")[0] == "OK"
    conn.logout()


def quota_changed_on_replica(cyrus, user):
    quota_on_master(cyrus, user)
    assert cyrus.sync(user).returncode == 0
    conn = imap(cyrus, "admin", "replica")
    assert conn.setquota(f"user.{user}", "(STORAGE 30000 MESSAGE 10)")[0] == "OK"
    conn.logout()


def mailbox_annotation_on_replica(cyrus, user):
    conn = imap(cyrus, user, "replica")
    typ, _ = conn._simple_command("SETMETADATA", "INBOX", '(/shared/comment "on the replica")')
    assert typ == "OK"
    conn.logout()


def message_annotation_on_master(cyrus, user):
    conn = imap(cyrus, user, "master")
    conn.select("INBOX")
    assert conn.uid("STORE", "1", "ANNOTATION", '(/comment (value.shared "a note"))')[0] == "OK"
    conn.logout()


def message_annotation_on_replica(cyrus, user):
    conn = imap(cyrus, user, "replica")
    conn.select("INBOX")
    assert conn.uid("STORE", "1", "ANNOTATION", '(/comment (value.shared "noted"))')[0] == "OK"
    conn.logout()


def mailbox_annotation_on_both_ends(cyrus, user):
    """The same entry set on both ends, the replica's later: its HIGHESTMODSEQ is higher."""
    for side, value in (("master", "first"), ("replica", "second")):
        conn = imap(cyrus, user, side)
        conn.select("INBOX")
        conn.uid("STORE", "1", "+FLAGS", "($Bump)")          # the replica's modseq is ahead
        conn.uid("STORE", "1", "-FLAGS", "($Bump)")
        typ, _ = conn._simple_command("SETMETADATA", "INBOX", f'(/shared/comment "{value}")')
        assert typ == "OK"
        conn.logout()


def sieve_on(side):
    def make(cyrus, user):
        target = ends(cyrus)[0 if side == "master" else 1]
        run_syncsh(shlex.join(["syncsh", target, "--allow-writes", "-c",
                               f"APPLY SIEVE %(USERID {user} FILENAME rules.script "
                               'LAST_UPDATE 1700000000 CONTENT "keep;")']))
    return make


def damaged_file_on_replica(cyrus, user):
    path = os.path.join(mbpath(cyrus.replica_conf, f"user.{user}"), "1.")
    data = bytearray(open(path, "rb").read())
    data[-3] ^= 0x20                      # one byte, same size: only the GUID check sees it
    open(path, "wb").write(bytes(data))


SCENARIOS = {
    # name: (make the divergence, the cause diff must report (mailbox suffix, kind), loses?)
    "flag-on-master": (store("master", "\\Flagged"), ("", "flags"), False),
    "keyword-on-replica": (store("replica", "$Work"), ("", "flags"), False),
    "seen-for-owner-on-replica": (store("replica", "\\Seen", uid="1"), ("", "flags"), False),
    "expunge-on-master": (expunge("master"), ("", "missing-on-master"), True),
    "expunge-on-replica": (expunge("replica"), ("", "missing-on-replica"), True),
    "append-on-replica": (append("replica"), ("", "missing-on-master"), False),
    "split-brain": (append("master", "replica"), ("", "split-brain"), False),
    "folder-on-master": (folder_on_master, (".Work", "only-on-master"), False),
    "folder-on-replica": (folder_on_replica, (".Work", "only-on-replica"), False),
    "folder-deleted-on-replica": (deleted_on_replica, (".Work", "deleted"), False),
    "folder-renamed-on-master": (renamed_on_master, (".Projects", "renamed"), False),
    # the user sync moves the replica's folder to DELETED.* too: its messages leave the
    # live folders on both ends (they stay in DELETED.* until expired)
    "folder-deleted-on-master": (deleted_on_master, (".Work", "deleted"), True),
    "folder-recreated-on-replica": (recreated_on_replica, (".Work", "re-created"), False),
    # the master's delete is replicated: the replica's copy of the old folder goes too
    "folder-recreated-on-master": (recreated_on_master, (".Work", "re-created"), True),
    # 3.6.1: a user sync bails out (or replaces the replica's folder): copy, unmailbox, sync
    "folder-created-on-both-ends": (created_on_both_ends, (".Work", "re-created"), False),
    "acl-on-replica": (acl_on_replica, ("", "acl"), False),
    "several-at-once": (several_at_once, ("", "split-brain"), True),
    "subscription-on-replica": (subscription_on_replica, (None, "subscription"), False),
    "quota-on-master": (quota_on_master, (None, "quota"), False),
    # 3.6.1: the master's limits win even over a newer change on the replica
    "quota-changed-on-replica": (quota_changed_on_replica, (None, "quota"), False),
    "mailbox-annotation-on-replica": (mailbox_annotation_on_replica, ("", "annotations"), False),
    "message-annotation-on-master": (message_annotation_on_master, ("", "message-annotation"),
                                     False),
    "message-annotation-on-replica": (message_annotation_on_replica,
                                      ("", "message-annotation"), False),
    "mailbox-annotation-on-both-ends": (mailbox_annotation_on_both_ends, ("", "annotations"),
                                        False),
    "sieve-on-master": (sieve_on("master"), (None, "sieve"), False),
    "sieve-on-replica": (sieve_on("replica"), (None, "sieve"), False),
    "damaged-file-on-replica": (damaged_file_on_replica, ("", "body"), False),
}


def expunged_and_expired_on(side):
    """An expunge whose record is then expired at once (cyr_expire -X 0): the other end
    has a message this one no longer has any record of."""
    def make(cyrus, user):
        expunge(side)(cyrus, user)
        conf = cyrus.master_conf if side == "master" else cyrus.replica_conf
        subprocess.run(["/usr/lib/cyrus/bin/cyr_expire", "-C", conf, "-X", "0", "-E", "0"],
                       check=True, capture_output=True, timeout=60)
    return make


SCENARIOS.update({
    # 3.6.1: the master's LAST_UID past a UID it has no record of means expunged there
    "expunged-and-expired-on-master": (expunged_and_expired_on("master"),
                                       ("", "missing-on-master"), True),
    # ... while the replica's missing record is simply sent again
    "expunged-and-expired-on-replica": (expunged_and_expired_on("replica"),
                                        ("", "missing-on-replica"), False),
})


def check_repair(cyrus, users, report, *, full=False, loses=False):
    before = live(cyrus, *users)
    side = winner(report)
    kept = state(cyrus, users, side) if side else None
    announced = set()
    for step in report["next_steps"]:
        for message in step["loses"]["messages"]:
            announced.add(message["guid"])
        assert step["loses_mail"] == bool(step["loses"]["messages"] or step["loses"]["folders"])
        if "sieve" in " ".join(step["procedure"]):
            step["_script"] = "rules.script"
        follow(cyrus, step, users)
    status, again = diff(cyrus, *users, full=full)
    assert status == 0 and not causes(again), again["findings"]
    after = live(cyrus, *users)
    lost = {guid for _, _, guid in before} - {guid for _, _, guid in after}
    assert lost == announced
    assert bool(lost) == loses
    if side:                        # the data flowed the way the step said
        assert state(cyrus, users, side) == kept, f"the {side} was changed"
        other = "replica" if side == "master" else "master"
        assert state(cyrus, users, other) == kept, f"the {other} did not take the {side}'s"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_is_diagnosed_and_the_step_repairs_it(cyrus, name):
    make, (suffix, kind), loses = SCENARIOS[name]
    user = fresh_user(cyrus, 3, prefix="rp")
    make(cyrus, user)
    full = kind == "body"
    status, report = diff(cyrus, user, full=full)
    assert status == 1
    found = causes(report)
    mailbox = "" if suffix is None else f"user.{user}{suffix}"
    assert (mailbox, kind) in found, found
    text = syncsh("diff", *ends(cyrus), "--user", user, "--no-color",
                  *(["--full"] if full else [])).stdout.decode()
    assert "next steps" in text and ("LOSES MAIL" in text) == loses
    copyback = any(s["copyback"] for s in report["next_steps"])
    assert ("sync_client -O refuses" in text) == copyback
    assert copyback == any("replica → master" in s["flow"] or "both ways" in s["flow"]
                           for s in report["next_steps"] if s["command"])
    check_repair(cyrus, [user], report, full=full, loses=loses)


def test_seen_of_another_user_in_a_shared_folder(cyrus):
    owner = fresh_user(cyrus, 1, prefix="ow")
    reader = fresh_user(cyrus, 1, prefix="rd")
    conn = imap(cyrus, owner, "master")
    conn.create("INBOX.Shared")
    conn.append("INBOX.Shared", None, None, MESSAGE % (b"master", b"shared"))
    conn.append("INBOX.Shared", None, None, MESSAGE % (b"master", b"shared 2"))
    assert conn.setacl("INBOX.Shared", reader, "lrs")[0] == "OK"
    conn.logout()
    assert cyrus.sync(owner).returncode == 0
    conn = imap(cyrus, reader, "replica")
    assert conn.select(f"user.{owner}.Shared")[0] == "OK"
    conn.uid("STORE", "1", "+FLAGS", "(\\Seen)")
    conn.logout()
    status, report = diff(cyrus, owner, reader)
    assert status == 1
    seen = [f for f in report["findings"] if f["kind"] == "seen"]
    assert [(f["user"], f["mailbox"]) for f in seen] == [(reader, f"user.{owner}.Shared")]
    assert "none on the master, UIDs 1 on the replica" in seen[0]["detail"]
    assert seen[0]["repair"]["command"] is None               # no sync_client mode does it
    check_repair(cyrus, [owner, reader], report)
    # now the master holds a seen record too: the reader's later change on the replica is
    # undone by a sync of the reader (the master's record wins)
    conn = imap(cyrus, reader, "replica")
    conn.select(f"user.{owner}.Shared")
    conn.uid("STORE", "2", "+FLAGS", "(\\Seen)")
    conn.logout()
    status, report = diff(cyrus, owner, reader)
    seen = [f for f in report["findings"] if f["kind"] == "seen"]
    assert status == 1 and "UIDs 1 on the master, UIDs 1:2 on the replica" in seen[0]["detail"]
    assert seen[0]["repair"]["argv"] == ["sync_client", "-u", reader]
    check_repair(cyrus, [owner, reader], report)


def test_a_name_on_neither_end_is_an_error(cyrus):
    user = fresh_user(cyrus, 1, prefix="ok")
    proc = syncsh("diff", *ends(cyrus), "--user", user, "--user", "nosuchuser")
    assert proc.returncode == 2
    assert b"nosuchuser" in proc.stderr and user.encode() not in proc.stderr
    proc = syncsh("diff", *ends(cyrus), "--mailbox", f"user.{user}", "--mailbox",
                  f"user.{user}.Nope", "--format", "json")
    report = diff_report(proc.stdout)
    assert proc.returncode == 2 and report["absent_mailboxes"] == [f"user.{user}.Nope"]
    assert report["identical_users"] == [user] and not report["identical"]


# ---------------------------------------------------------------------- the CRC check

def altered_replica(cyrus, tmp_path):
    """An exec: target serving the real replica's sync_server with every SYNC_CRC changed
    on its way (sed, unbuffered): the records no longer add up to it."""
    script = tmp_path / "altered.sh"
    script.write_text("#!/bin/sh\nrunuser -u cyrus -- env CYRUS_SERVICE=csync CYRUS_ID=0 "
                      f"/usr/lib/cyrus/bin/sync_server -C {cyrus.replica_conf} -X "
                      "| sed -u 's/SYNC_CRC [0-9]*/SYNC_CRC 1/'\n")
    script.chmod(0o755)
    return f"exec:{script}"


def test_a_crc_that_disagrees_fails_in_every_format(cyrus, tmp_path):
    user = fresh_user(cyrus, 3, prefix="crc")
    good, bad = f"unix:{cyrus.replica_socket}", altered_replica(cyrus, tmp_path)
    command = f"GET FULLMAILBOX user.{user}"
    proc = syncsh(good, "-c", command, "--format", "json")
    crcs = [json.loads(line) for line in proc.stdout.splitlines()
            if json.loads(line)["type"] == "crc"]
    assert proc.returncode == 0 and [c["agree"] for c in crcs] == [True, True]
    proc = syncsh(bad, "-c", command, "--format", "json")
    crcs = {c["name"]: c for c in map(json.loads, proc.stdout.splitlines()) if c["type"] == "crc"}
    assert proc.returncode == 1
    assert crcs["SYNC_CRC"]["agree"] is False and crcs["SYNC_CRC"]["server"] == 1
    assert crcs["SYNC_CRC"]["mailbox"] == f"user.{user}" and crcs["SYNC_CRC"]["computed"] > 1
    assert crcs["SYNC_CRC_ANNOT"]["agree"] is True
    proc = syncsh(bad, "-c", command, "--format", "raw")
    assert proc.returncode == 1 and b"SYNC_CRC 1 " in proc.stdout
    assert proc.stderr.decode().splitlines() == [
        f"syncsh: user.{user}: SYNC_CRC differs: server 1, computed from its records "
        f"{crcs['SYNC_CRC']['computed']}"]
    assert b"differs" not in proc.stdout.lower()          # the wire lines only
    proc = syncsh(bad, "-c", command, "--format", "table", "--no-color")
    assert proc.returncode == 1 and b"SYNC_CRC DIFFERS: server 1" in proc.stdout
    # diff runs the same check on what each end sent
    proc = syncsh("diff", f"unix:{cyrus.master_socket}", bad, "--user", user, "--format", "json")
    report = diff_report(proc.stdout)
    assert proc.returncode == 1
    checks = [f for f in report["findings"] if f["kind"] == "crc" and "computed" in f["detail"]]
    assert [(f["mailbox"], f["master"]) for f in checks] == [(f"user.{user}", 1)]
    assert checks[0]["repair"]["procedure"][0].startswith("on the replica: reconstruct -n")


def test_many_findings_one_step_printed_once_and_rows_as_they_come(cyrus):
    """Thirty flag changes: thirty findings, one next step with its count; the text shows
    twenty rows of the kind and says how many more, each user's rows before the summary."""
    first = fresh_user(cyrus, 30, prefix="mf")
    second = fresh_user(cyrus, 1, prefix="mf")
    conn = imap(cyrus, first, "master")
    conn.select("INBOX")
    conn.uid("STORE", "1:30", "+FLAGS", "($Triaged)")
    conn.logout()
    status, report = diff(cyrus, first, second)
    assert status == 1 and len(causes(report)) == 30
    assert [(s["command"], s["findings"]) for s in report["next_steps"]] == [
        (f"sync_client -u {first}", 30)]
    text = syncsh("diff", *ends(cyrus), "--user", first, "--user", second,
                  "--no-color").stdout.decode()
    assert text.count("\n  flags  UID ") == 20
    assert "… and 10 more flags finding(s) here" in text
    assert text.count(f"sync_client -u {first}") == 1 and "(repairs 30 findings)" in text
    assert text.index(f"{first}  user.{first}\n") < text.index("next steps")
    every = syncsh("diff", *ends(cyrus), "--user", first, "--no-color", "--all-rows")
    assert every.stdout.decode().count("\n  flags  UID ") == 30
    check_repair(cyrus, [first, second], report)


def test_expunged_records_that_differ_are_shown_not_counted(cyrus):
    """After an expunge on the replica is replicated, both ends keep an expunged record
    for UID 2 and they differ (the master's has no \\Deleted): --expunged shows it; it is
    no divergence (outside SYNC_CRC, and no sync aligns it)."""
    user = fresh_user(cyrus, 3, prefix="ex")
    expunge("replica")(cyrus, user)
    assert cyrus.sync(user).returncode == 0
    status, report = diff(cyrus, user)
    assert status == 0 and report["findings"] == []
    proc = syncsh("diff", *ends(cyrus), "--user", user, "--expunged", "--format", "json")
    report = diff_report(proc.stdout)
    assert proc.returncode == 0 and report["identical"]
    kept = [f for f in report["findings"] if f["kind"] == "expunged"]
    assert [f["uid"] for f in kept] == [2] and kept[0]["consequence"]
    assert "\\Deleted" in kept[0]["replica"] and "\\Deleted" not in kept[0]["master"]
    assert "no sync aligns them" in kept[0]["next_step"]

