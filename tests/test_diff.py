"""diff: the demo pair in the documented dialect, and a real Cyrus pair made to diverge."""

import imaplib
import json
import os
import sys

import pytest

from conftest import syncsh, diff_report

from test_csync import fresh_user, password_env


def diff_json(*args, env=None):
    proc = syncsh("diff", *args, "--format", "json", env=env)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, diff_report(proc.stdout)


def kinds(report, consequences=False):
    return sorted((f["mailbox"], f["kind"], f["uid"]) for f in report["findings"]
                  if consequences or not f["consequence"])


def test_fresh_demo_pair_differs_only_in_uidlast_and_seen():
    status, report = diff_json("demo:cyrus-1", "demo:cyrus-2", "--user", "dpc22")
    assert status == 1
    assert kinds(report) == [("user.dpc22", "seen", None), ("user.dpc22", "uidlast", None)]
    details = {f["kind"]: f for f in report["findings"]}
    assert (details["uidlast"]["master"], details["uidlast"]["replica"]) == (4156, 4151)
    assert (details["seen"]["master"], details["seen"]["replica"]) == (1062968731, 1062945305)


def test_the_documents_damage_then_replicate_then_identical(tmp_path):
    syncsh("demo:cyrus-2", "-c", "user dpc22", "-c", "select user.dpc22", "-c", "expunge 1",
           "-c", "setflags 4140 (hello world)")
    status, report = diff_json("demo:cyrus-1", "demo:cyrus-2", "--user", "dpc22")
    assert status == 1
    assert kinds(report) == [("user.dpc22", "flags", 4140), ("user.dpc22", "missing-on-replica", 1),
                             ("user.dpc22", "seen", None), ("user.dpc22", "uidlast", None)]
    flags = next(f for f in report["findings"] if f["kind"] == "flags")
    assert flags["master"] == [] and flags["replica"] == ["hello", "world"]
    missing = next(f for f in report["findings"] if f["kind"] == "missing-on-replica")
    assert "replicate" in missing["next_step"]
    from syncsh import demo
    master = os.path.join(demo.pair_dir(), "cyrus-1")
    assert syncsh("replicate", "--master", master, "-s", "demo:cyrus-2", "-u", "dpc22").returncode == 0
    status, report = diff_json("demo:cyrus-1", "demo:cyrus-2", "--user", "dpc22")
    assert status == 0 and report["identical"] and report["identical_users"] == ["dpc22"]


def test_table_output_and_mailbox_mode(tmp_path):
    users = tmp_path / "users"
    users.write_text("# who\ndpc22\n")
    proc = syncsh("diff", "demo:cyrus-1", "demo:cyrus-2", "--users-from", str(users))
    out = proc.stdout.decode()
    assert proc.returncode == 1
    assert "uidlast 4156 on the master, 4151 on the replica" in out
    assert "next steps\n  syncsh replicate --master " in out and "(repairs 2 findings)" in out
    proc = syncsh("diff", "demo:cyrus-1", "demo:cyrus-2", "--mailbox", "user.dpc22",
                  "--format", "json")
    assert proc.returncode == 1
    assert {f["kind"] for f in diff_report(proc.stdout)["findings"]} == {"uidlast", "seen"}


def test_renames_recreations_and_one_sided_folders():
    syncsh("demo:cyrus-2", "-c", "user dpc22", "-c", "create user.dpc22.old NIL NIL 0 1062000000",
           "-c", "create user.dpc22.DELETED.x NIL NIL 0 1062000001")
    syncsh("demo:cyrus-1", "-c", "user dpc22", "-c", "create user.dpc22.new NIL NIL 0 1062000000")
    # same uniqueid under two names would be a rename: make the master's folder the replica's
    # renamed (the uniqueid derives from name and uidvalidity, so give it explicitly)
    syncsh("demo:cyrus-2", "-c", "user dpc22", "-c", "delete user.dpc22.old",
           "-c", "create user.dpc22.old 00000000000000aa NIL 0 1062000000")
    syncsh("demo:cyrus-1", "-c", "user dpc22", "-c", "delete user.dpc22.new",
           "-c", "create user.dpc22.new 00000000000000aa NIL 0 1062000000",
           "-c", "delete user.dpc22", "-c", "create user.dpc22 0000000000000bbb NIL 0 1")
    status, report = diff_json("demo:cyrus-1", "demo:cyrus-2", "--user", "dpc22")
    found = {(f["mailbox"], f["kind"]) for f in report["findings"]}
    assert ("user.dpc22.new", "renamed") in found
    assert ("user.dpc22", "re-created") in found
    assert ("user.dpc22.DELETED.x", "only-on-replica") in found
    deleted = next(f for f in report["findings"] if f["mailbox"] == "user.dpc22.DELETED.x")
    assert "delayed-delete" in deleted["detail"]


def test_a_held_lock_is_reported_not_waited_on(tmp_path):
    import subprocess
    from syncsh import demo
    replica = os.path.join(demo.ensure_pair(), "cyrus-2")
    holder = subprocess.Popen([sys.executable, "-m", "syncsh", "server", "--store", replica],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        holder.stdout.readline()
        holder.stdin.write(b"USER dpc22\r\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == b"OK Locked dpc22\r\n"
        target = f"exec:{sys.executable} -m syncsh server --store {replica} --lock-timeout 0.5"
        proc = syncsh("diff", "demo:cyrus-1", target, "--user", "dpc22")
        assert proc.returncode == 2
        assert "dpc22: the replica did not give its lock" in proc.stdout.decode()
    finally:
        holder.kill()
        holder.wait()


def test_recheck_keeps_what_persists():
    proc = syncsh("diff", "demo:cyrus-1", "demo:cyrus-2", "--user", "dpc22", "--recheck", "0.1",
                  "--format", "json")
    assert proc.returncode == 1
    assert len(diff_report(proc.stdout)["findings"]) == 2


def test_usage_errors():
    for args in ([], ["demo:cyrus-1"], ["demo:cyrus-1", "demo:cyrus-2"],
                 ["demo:cyrus-1", "bogus", "--user", "x"],
                 ["demo:cyrus-1", "demo:cyrus-1", "--user", "dpc22"]):
        proc = syncsh("diff", *args)
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, args
    assert b"the master and the replica are both demo:cyrus-1" in proc.stderr


def test_a_user_on_neither_end_is_not_called_identical():
    """A mistyped user name finds nothing on either end: said so, not "identical"."""
    proc = syncsh("diff", "demo:cyrus-1", "demo:cyrus-2", "--user", "dpc22x", "--format", "json")
    report = diff_report(proc.stdout)
    assert proc.returncode == 2 and report["findings"] == [] and not report["identical"]
    assert report["absent_users"] == ["dpc22x"] and report["identical_users"] == []
    proc = syncsh("diff", "demo:cyrus-1", "demo:cyrus-2", "--user", "dpc22x", "--no-color")
    out = proc.stdout.decode()
    assert proc.returncode == 2 and "dpc22x" in out and "no mailbox on either end" in out
    assert "identical" not in out
    assert proc.stderr.decode() == ("syncsh diff: nothing on either end for: dpc22x "
                                    "(check the names)\n")
    proc = syncsh("diff", "demo:cyrus-1", "demo:cyrus-2", "--mailbox", "user.dpc22",
                  "--mailbox", "user.dpc22.nosuch", "--format", "json")
    report = diff_report(proc.stdout)
    assert proc.returncode == 2 and report["absent_mailboxes"] == ["user.dpc22.nosuch"]
    assert b"user.dpc22.nosuch" in proc.stderr and not report["identical"]


def test_the_suggested_replicate_pastes_as_it_is(tmp_path):
    """A master store with a space in its path: the suggested command line, split as a POSIX
    shell would, runs and repairs."""
    import shlex
    env = dict(os.environ, SYNCSH_DATA_DIR=str(tmp_path / "my data"))
    syncsh("demo:cyrus-2", "-c", "user dpc22", "-c", "select user.dpc22", "-c", "expunge 1",
           env=env)
    proc = syncsh("diff", "demo:cyrus-1", "demo:cyrus-2", "--user", "dpc22", "--format", "json",
                  env=env)
    steps = diff_report(proc.stdout)["next_steps"]
    assert len(steps) == 1 and "'" in steps[0]["command"]
    argv = shlex.split(steps[0]["command"])
    assert argv[:2] == ["syncsh", "replicate"] and argv == steps[0]["argv"]
    assert syncsh(*argv[1:], env=env).returncode == 0
    proc = syncsh("diff", "demo:cyrus-1", "demo:cyrus-2", "--user", "dpc22", env=env)
    assert proc.returncode == 0, proc.stdout.decode()


# ---------------------------------------------------------------------- real Cyrus

def imap(cyrus, user, port):
    conn = imaplib.IMAP4("127.0.0.1", port)
    conn.login(user, "secret")
    return conn


def test_real_cyrus_divergence_and_what_a_sync_repairs(cyrus):
    changed = fresh_user(cyrus, 5, prefix="dv")
    untouched = fresh_user(cyrus, 2, prefix="ok")
    conn = imap(cyrus, changed, cyrus.replica_imap)
    conn.select("INBOX")
    conn.uid("STORE", "2", "+FLAGS", "($Keyword)")
    conn.uid("STORE", "3", "+FLAGS", "(\\Deleted)")
    conn.expunge()
    conn.append("INBOX", None, None, b"From: x@example.org\r\nSubject: appended on the replica\r\n\r\nhi\r\n")
    assert conn.create("INBOX.ReplicaOnly")[0] == "OK"
    conn.logout()
    master = f"csync://admin@127.0.0.1:{cyrus.master_port}"
    replica = f"csync://admin@127.0.0.1:{cyrus.replica_port}"
    status, report = diff_json(master, replica, "--user", changed, "--user", untouched,
                               env=password_env())
    assert status == 1
    found = kinds(report)
    inbox = f"user.{changed}"
    assert (inbox, "flags", 2) in found
    assert (inbox, "missing-on-replica", 3) in found            # expunged on the replica
    assert (inbox, "missing-on-master", 6) in found             # appended on the replica
    assert (f"{inbox}.ReplicaOnly", "only-on-replica", None) in found
    consequences = [f for f in report["findings"] if f["consequence"]]
    assert {f["kind"] for f in consequences} >= {"highestmodseq"}
    assert report["identical_users"] == [untouched]
    # a normal sync copies the replica's changes back; the replica-only folder stays
    cyrus.sync(changed)
    status, report = diff_json(master, replica, "--user", changed, env=password_env())
    assert status == 1
    assert kinds(report) == [(f"{inbox}.ReplicaOnly", "only-on-replica", None)]
    step = report["findings"][0]["repair"]
    assert step["command"] is None and "APPLY UNMAILBOX" in step["procedure"][1]
    assert "sync_client leaves folders that exist on the replica only" in step["summary"]


def test_real_cyrus_full_mode_checks_bodies(cyrus):
    user = fresh_user(cyrus, 2, prefix="fl")
    proc = syncsh("diff", f"unix:{cyrus.master_socket}", f"unix:{cyrus.replica_socket}",
                  "--user", user, "--full", "--format", "json")
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert diff_report(proc.stdout)["identical_users"] == [user]


def test_diff_from_inside_the_repl(capsys):
    from test_transcripts import run_repl_keys
    run_repl_keys("\\diff demo:cyrus-2 --user dpc22\nuser dpc22\n\\diff demo:cyrus-2 --user dpc22\n"
                  "\x04", "demo:cyrus-1", "--format", "raw")
    captured = capsys.readouterr()
    assert "uidlast 4156 on the master, 4151 on the replica" in captured.out
    assert "(diff exit status 1)" in captured.err
    assert "holds the lock on dpc22: ENDUSER first" in captured.err


def test_a_named_pair_from_the_config(tmp_path):
    config = tmp_path / "syncsh.toml"
    config.write_text('[targets]\nmaster = "demo:cyrus-1"\n\n'
                      '[pairs.demo]\nmaster = "master"\nreplica = "demo:cyrus-2"\n'
                      'users = ["dpc22"]\n')
    proc = syncsh("diff", "demo", "--config", str(config), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    report = diff_report(proc.stdout)
    assert report["users"] == ["dpc22"] and report["master"] == "master"
    assert {f["kind"] for f in report["findings"]} == {"uidlast", "seen"}


def live_guids(target):
    proc = syncsh(target, "-c", "user_all dpc22", "-c", "enduser", "--format", "json")
    return {e["guid"] for e in map(json.loads, proc.stdout.splitlines()) if e["type"] == "message"}


DOCUMENTED_DIVERGENCES = {
    # name: (commands on the replica, commands on the master, kind, loses mail)
    "flags-on-replica": (["select user.dpc22", "setflags 4140 (hello)"], [], "flags", False),
    "expunge-on-replica": (["select user.dpc22", "expunge 4140"], [], "missing-on-replica",
                           False),
    "expunge-on-master": ([], ["select user.dpc22", "expunge 4140"], "missing-on-master", True),
    "folder-on-replica": (["create user.dpc22.only NIL NIL 0 1062000000"], [],
                          "only-on-replica", True),          # the (empty) folder is lost
    "subscription-on-replica": (["addsub user.dpc22.extra"], [], "subscription", False),
    "quota-on-replica": (["setquota user.dpc22 5000"], [], "quota", False),
}


@pytest.mark.parametrize("name", sorted(DOCUMENTED_DIVERGENCES))
def test_documented_dialect_steps_repair_and_announce_their_losses(name):
    """The demo pair made to diverge: the one suggested `syncsh replicate` line, pasted as it
    is, leaves the pair identical and loses exactly the messages it announced."""
    import shlex
    on_replica, on_master, kind, loses = DOCUMENTED_DIVERGENCES[name]
    for target, commands in (("demo:cyrus-2", on_replica), ("demo:cyrus-1", on_master)):
        if commands:
            script = [a for c in ["user dpc22", *commands, "enduser"] for a in ("-c", c)]
            assert syncsh(target, *script, "--allow-writes").returncode == 0
    status, report = diff_json("demo:cyrus-1", "demo:cyrus-2", "--user", "dpc22")
    assert status == 1 and kind in {f["kind"] for f in report["findings"]}
    steps = report["next_steps"]
    assert len(steps) == 1 and steps[0]["argv"][-2:] == ["-u", "dpc22"]
    assert steps[0]["loses_mail"] == loses
    before = live_guids("demo:cyrus-1") | live_guids("demo:cyrus-2")
    assert syncsh(*shlex.split(steps[0]["command"])[1:]).returncode == 0
    status, report = diff_json("demo:cyrus-1", "demo:cyrus-2", "--user", "dpc22")
    assert status == 0, report["findings"]
    lost = before - live_guids("demo:cyrus-1") - live_guids("demo:cyrus-2")
    assert lost == {m["guid"] for m in steps[0]["loses"]["messages"]}
    assert (name == "folder-on-replica") == (steps[0]["loses"]["folders"] == ["user.dpc22.only"])


def test_the_text_report_shows_server_text_escaped():
    import io
    from rich.console import Console
    from syncsh.diff.compare import Finding
    from syncsh.diff.report import render_findings
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, highlight=False)
    render_findings([Finding("u", "user.u.\x1b[2Jx", "flags", "\x1b]0;PWNED\x07 differ")],
                    console)
    text = out.getvalue()
    assert "\x1b]0;" not in text and "\x07" not in text and "\x1b[2J" not in text
    assert "\\x1b]0;PWNED\\x07" in text and "user.u.\\x1b[2Jx" in text


def test_a_user_whose_lock_one_end_holds_is_an_error_never_a_divergence(tmp_path):
    """A diff that cannot read one end must not take its silence for an empty mailstore:
    the next step drawn from that would delete the other end's mail."""
    from syncsh import demo
    from syncsh.server.store import UserLock
    pair = demo.ensure_pair()
    ends = [f"exec:{sys.executable} -m syncsh server --store {os.path.join(pair, name)} "
            "--lock-timeout 0.2" for name in demo.NAMES]
    for held in demo.NAMES:
        lock = UserLock(os.path.join(pair, held), "dpc22")
        lock.acquire(1)
        try:
            proc = syncsh("diff", *ends, "--user", "dpc22", "--master-store",
                          os.path.join(pair, "cyrus-1"))
        finally:
            lock.release()
        out = proc.stdout.decode()
        assert proc.returncode == 2, out
        assert "only-on" not in out and "LOSES MAIL" not in out and "replicate" not in out
        assert "did not give its lock" in out
