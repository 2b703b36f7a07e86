"""Whole-server audits (diff --all-users) against a real Cyrus 3.6 pair of their own: 200
users, all synced, then five made divergent in five ways through IMAP."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import require_cyrus, syncsh

USERS = [f"aud{n:03d}" for n in range(200)]
CHANGED = ["aud007", "aud042", "aud101", "aud150", "aud199"]


def admin_imap(port, mailbox=None):
    import imaplib
    session = imaplib.IMAP4("127.0.0.1", port)
    session.login("admin", "secret")
    if mailbox:
        session.setacl(mailbox, "admin", "lrswipkxtecda")
        session.select(mailbox)
    return session


def diverge(pair) -> None:
    """Five users, five kinds of divergence, none of them synced."""
    flagged, appended, folder, expunged, acl = CHANGED
    replica = admin_imap(pair.replica_imap, f"user.{flagged}")
    replica.store("1", "+FLAGS", "(\\Flagged)")
    replica.logout()
    replica = admin_imap(pair.replica_imap, f"user.{appended}")
    replica.append(f"user.{appended}", "()", None, b"Subject: only here\r\n\r\nreplica\r\n")
    replica.logout()
    replica = admin_imap(pair.replica_imap)
    assert replica.create(f"user.{folder}.extra")[0] == "OK"
    assert replica.setacl(f"user.{acl}", "someone", "lr")[0] == "OK"
    replica.logout()
    master = admin_imap(pair.master_imap, f"user.{expunged}")
    master.store("1", "+FLAGS", "(\\Deleted)")
    master.expunge()
    master.logout()


@pytest.fixture(scope="module")
def audit_pair():
    require_cyrus()
    from servers.cyrus import CyrusPair
    from servers.seeding import create_users
    pair = CyrusPair(f"/tmp/syncsh-aud-{os.getpid()}")
    try:
        create_users(pair.master_imap, USERS)
        done = pair.sync_client("-v", "-A")
        assert done.returncode == 0, done.stderr[-500:]
        diverge(pair)
        yield pair
    finally:
        pair.destroy()


def env():
    return dict(os.environ, SYNCSH_PASSWORD="secret")


def ends(pair):
    return (f"csync://admin@127.0.0.1:{pair.master_port}",
            f"csync://admin@127.0.0.1:{pair.replica_port}")


def divergent_users(text: str) -> set[str]:
    return {line.split("\t")[0] for line in text.splitlines() if "\tdivergent\t" in line}


def test_all_users_from_the_masters_imap_finds_exactly_the_divergent(audit_pair):
    proc = syncsh("diff", *ends(audit_pair), "--all-users", "--imap",
                  f"imap://admin@127.0.0.1:{audit_pair.master_imap}", env=env(), timeout=300)
    out = proc.stdout.decode()
    assert proc.returncode == 1, proc.stderr
    assert divergent_users(out) == set(CHANGED)
    assert "200 users compared" in out and "195 identical, 5 divergent, 0 errors" in out
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out)       # piped: no control bytes


def test_all_users_read_locally_from_a_cyrus_master(audit_pair):
    proc = syncsh("diff", f"cyrus:{audit_pair.master_conf}", ends(audit_pair)[1],
                  "--all-users", "--format", "json", "--jobs", "2", env=env(), timeout=300)
    assert proc.returncode == 1, proc.stderr
    import json
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert {r["user"] for r in rows if r["type"] == "user"} == set(USERS)
    assert {r["user"] for r in rows if r.get("status") == "divergent"} == set(CHANGED)
    summary = rows[-1]
    assert summary["type"] == "summary" and summary["divergent"] == 5 and summary["error"] == 0
    flagged = next(r for r in rows if r.get("user") == CHANGED[0])
    assert flagged["findings"] and flagged["kinds"]


def test_an_interrupted_audit_resumes_from_its_state_file(audit_pair, tmp_path):
    state = tmp_path / "state.jsonl"
    argv = [sys.executable, "-m", "syncsh", "diff", *ends(audit_pair), "--all-users",
            "--imap", f"imap://admin@127.0.0.1:{audit_pair.master_imap}", "--jobs", "1",
            "--rate", "40", "--state", str(state)]
    proc = subprocess.Popen(argv, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if state.exists() and state.read_text().count("\n") >= 60:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"interrupted: rerun with the same --state" in out
    first = state.read_text().count("\n")
    assert 60 <= first < 200
    again = subprocess.run(argv[:-4] + ["--state", str(state)], env=env(),
                           capture_output=True, timeout=300)
    assert again.returncode == 1, again.stderr
    assert state.read_text().count("\n") == 200          # only the rest was compared
    text = again.stdout.decode()
    assert "200 users compared" in text and "5 divergent" in text


def test_the_progress_bar_is_drawn_and_cleared_on_a_terminal(audit_pair, tmp_path):
    from test_repl import Tmux, require
    require("tmux", "tmux")
    master, replica = ends(audit_pair)
    command = (f"{sys.executable} -m syncsh diff {master} {replica} --all-users --imap "
               f"imap://admin@127.0.0.1:{audit_pair.master_imap} --rate 100; sleep 30")
    term = Tmux(command, dict(env(), TERM="xterm-256color"), width=120, height=40)
    try:
        term.wait_for("/200")                               # users done/total, while it runs
        screen = term.wait_for("200 users compared", timeout=60)
        assert "/200" not in term.visible()                 # the bar is gone at the end
        assert "195 identical, 5 divergent, 0 errors" in screen
        assert all(re.search(rf"^{user}\s+divergent", screen, re.M) for user in CHANGED)
    finally:
        term.close()


def test_demo_audit_rechecks_and_reads_its_state(tmp_path):
    proc = syncsh("diff", "demo:cyrus-1", "demo:cyrus-2", "--all-users", "--recheck", "0.1")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.decode().splitlines()[0].startswith("dpc22\tdivergent\t")
    state = tmp_path / "state"
    state.write_text('{"user": "dpc22", "status": "identical", "kinds": {}, "error": ""}\n')
    proc = syncsh("diff", "demo:cyrus-1", "demo:cyrus-2", "--all-users", "--state", str(state))
    assert proc.returncode == 0 and b"1 users compared" in proc.stdout     # taken as done
    state.write_text("not json\n")
    proc = syncsh("diff", "demo:cyrus-1", "demo:cyrus-2", "--all-users", "--state", str(state))
    assert proc.returncode == 2 and proc.stderr.decode().count("\n") == 1
    assert b"not a state line of syncsh diff" in proc.stderr
    for bad in (["--jobs", "0"], ["--jobs", "99"], ["--rate", "0"], ["--user", "x"]):
        proc = syncsh("diff", "demo:cyrus-1", "demo:cyrus-2", "--all-users", *bad)
        assert proc.returncode == 2 and proc.stderr.decode().count("\n") == 1, bad


# ---------------------------------------------------------------------- on the shared pair

def sieve_script(cyrus, side, user, activate=False):
    target = f"unix:{cyrus.master_socket if side == 'master' else cyrus.replica_socket}"
    lines = [f"APPLY SIEVE %(USERID {user} FILENAME rules.script LAST_UPDATE 1700000000 "
             'CONTENT "keep;")']
    if activate:
        lines.append(f"APPLY ACTIVATE_SIEVE %(USERID {user} FILENAME rules.bc)")
    for line in lines:
        proc = syncsh(target, "--allow-writes", "-c", line)
        assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()


def test_sieve_scripts_are_judged_in_an_audit_as_diff_user_judges_them(cyrus, tmp_path):
    """The audit's sessions see sieve scripts as the #sieve mailbox (SIEVE-MAILBOX, as
    sync_client asks): the same one on both ends is no finding; another difference is
    worded as diff --user words it."""
    from conftest import diff_report
    from test_csync import fresh_user
    synced, diverged, plain = (fresh_user(cyrus, 1, prefix=p) for p in ("sv", "sd", "sp"))
    sieve_script(cyrus, "master", synced, activate=True)
    cyrus.sync(synced)
    sieve_script(cyrus, "replica", diverged)
    users = [a for u in (synced, diverged, plain) for a in ("--user", u)]
    master, replica = (f"csync://admin@127.0.0.1:{p}"
                       for p in (cyrus.master_port, cyrus.replica_port))
    audit = syncsh("diff", master, replica, *users, "--state", str(tmp_path / "state"),
                   "--format", "json", env=env())
    assert audit.returncode == 1, audit.stderr
    import json
    rows = {r.get("user"): r for r in map(json.loads, audit.stdout.decode().splitlines())}
    assert rows[synced]["status"] == rows[plain]["status"] == "identical"
    assert rows[diverged]["status"] == "divergent" and rows[diverged]["kinds"] == {"sieve": 1}
    one = syncsh("diff", master, replica, *users, "--format", "json", env=env())
    report = diff_report(one.stdout)
    assert sorted(report["identical_users"]) == sorted([synced, plain])
    assert [f for f in report["findings"] if f["user"] == diverged] == \
        rows[diverged]["findings"]


def test_reads_sent_ahead_are_answered_in_order(cyrus):
    from test_csync import fresh_user
    from syncsh.connect import open_session
    from syncsh.errors import SyncshError
    from syncsh.model import Mailbox
    from syncsh.targets import parse_target
    first, second = fresh_user(cyrus, 1, prefix="pa"), fresh_user(cyrus, 2, prefix="pb")
    session = open_session(parse_target(f"unix:{cyrus.master_socket}"), learn=False)
    try:
        asked = [first, "nobody-at-all", second, first]
        session.send_ahead([f"GET USER {user}" for user in asked])
        for user in asked:
            events = list(session.replies())
            assert events[-1].ok, events[-1]
            names = [e.name for e in events if isinstance(e, Mailbox)]
            assert names == ([] if user == "nobody-at-all" else [f"user.{user}"]), user
        # replies still due when another command goes are read and set aside first
        session.send_ahead([f"GET USER {first}", f"GET USER {first}"])
        events, done = session.run(f"GET USER {second}")
        assert done.ok and [e.name for e in events if isinstance(e, Mailbox)] == \
            [f"user.{second}"]
        with pytest.raises(SyncshError):       # never a write, never sent
            session.send_ahead([f"GET USER {first}", f"APPLY UNUSER {first}"])
        assert session.run(f"GET USER {first}")[1].ok
        session.send_ahead([f"GET USER {first}"])
    finally:
        session.close()                         # a reply still due: closed without EXIT
    assert session.closed
