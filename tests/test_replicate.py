"""replicate: the document's two scenarios end to end, user mode, dry runs, interrupted runs."""

import os
import subprocess
import sys

import pytest

from syncsh import demo

from conftest import syncsh, teed_server

DAMAGE = ["user_some dpc22 user.dpc22", "select user.dpc22", "expunge 1",
          "setflags 4140 (hello world)", "status"]


def exec_target(store, *server_flags):
    return " ".join([f"exec:{sys.executable} -m syncsh server --store {store}", *server_flags])


def run_commands(store, commands):
    args = [exec_target(store), "--allow-writes"]
    for command in commands:
        args += ["-c", command]
    proc = syncsh(*args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode()


def combined(*args):
    """stdout and stderr in one stream, in the order written, as on a terminal."""
    proc = subprocess.run([sys.executable, "-m", "syncsh", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=120)
    return proc.returncode, proc.stdout.decode()


def test_first_scenario_prints_the_documents_seven_lines_and_repairs(pair):
    master, replica = pair
    run_commands(replica, DAMAGE)
    status, out = combined("replicate", "--master", master, "-s",
                           exec_target(replica, "-v", "-v"), "-v", "-v", "-m", "user.dpc22")
    assert status == 0
    assert [line.strip() for line in out.splitlines()] == [
        "MAILBOXES user.dpc22", "USER_SOME dpc22 user.dpc22", "SELECT user.dpc22",
        "SETFLAGS [1 msgs]", "UPLOAD [1 msgs]", "SETSEEN dpc22 ...", "ENDUSER"]
    listing = run_commands(replica, ["user_some dpc22 user.dpc22"]).splitlines()
    assert listing[1].endswith('"dpc22\tlrswipcda\tanonymous\t0\t" 4156 1062968731')
    assert listing[2] == "* 1 000000000000000000000000 ()"
    assert listing[-2] == "* 4140 0101003f4c56b08c9d000026 ()"
    assert listing[-1] == "OK User_Some finished" and len(listing) == 13


def test_client_lines_on_stdout_trace_on_stderr(pair):
    master, replica = pair
    proc = syncsh("replicate", "--master", master, "-s", exec_target(replica, "-v", "-v"),
                  "-v", "-v", "-m", "user.dpc22")
    assert proc.stdout.decode().splitlines() == ["MAILBOXES user.dpc22"]
    assert "   USER_SOME dpc22 user.dpc22" in proc.stderr.decode().splitlines()


def test_demo_targets_start_their_server_with_the_trace(pair, tmp_path):
    master, _ = pair
    status, out = combined("replicate", "--master", master, "-s", "demo:cyrus-2", "-v", "-v",
                           "-m", "user.dpc22")
    assert status == 0
    assert "   USER_SOME dpc22 user.dpc22" in out.splitlines()
    status, out = combined("replicate", "--master", master, "-s", "demo:cyrus-2", "-v",
                           "-m", "user.dpc22")
    assert out.splitlines() == ["MAILBOXES user.dpc22"]


def sent_bytes_wrapper(tmp_path, replica):
    return teed_server(tmp_path, replica, "-v", "-v")


def test_second_scenario_moves_a_message_without_sending_its_body(pair, tmp_path):
    master, replica = pair
    run_commands(replica, DAMAGE)
    syncsh("replicate", "--master", master, "-s", exec_target(replica), "-m", "user.dpc22")
    demo.move_to_new_folder(master)
    target, log = sent_bytes_wrapper(tmp_path, replica)
    status, out = combined("replicate", "--master", master, "-s", target, "-v", "-v",
                           "-m", "user.dpc22", "user.dpc22.zzz")
    assert status == 0
    assert [line.strip() for line in out.splitlines()] == [
        "MAILBOXES user.dpc22 user.dpc22.zzz", "USER_SOME dpc22 user.dpc22 user.dpc22.zzz",
        "RESERVE user.dpc22 ...", "SELECT user.dpc22", "EXPUNGE [1 msgs]", "SETSEEN dpc22 ...",
        "CREATE user.dpc22.zzz 7f6f384c3f5ba99a",
        '"dpc22\tlrswipcda\tanonymous\t0\t" 0 1062971802',
        "SELECT user.dpc22.zzz", "UPLOAD [1 msgs]", "SETSEEN dpc22 ...", "ENDUSER"]
    sent = log.read_bytes()
    assert b"UPLOAD 1 1062971802 COPY 0101003f4c56b084d7000002 1 " in sent
    assert b"{" not in sent                       # no literal, so no body, crossed the wire
    assert b"Subject:" not in sent
    listing = run_commands(replica, ["user_some dpc22 user.dpc22.zzz"]).splitlines()
    assert listing[1].startswith("** 7f6f384c3f5ba99a user.dpc22.zzz ")
    assert listing[2].startswith("* 1 0101003f4c56b084d7000002 ")


def user_all(store):
    return run_commands(store, ["user_all dpc22"])


def diverge(replica):
    run_commands(replica, ["user dpc22", "delsub user.dpc22", "addsub user.dpc22.junk",
                           "setquota user.dpc22 5", "delete_sieve filters",
                           'upload_sieve old 5 "keep;"',
                           "create user.dpc22.extra NIL NIL 0 1062000000",
                           "select user.dpc22", "setflags 4089 () 4136 (\\flagged $Junk)",
                           "expunge 3697"])


def test_user_mode_brings_subscriptions_quota_and_sieve_across(pair):
    master, replica = pair
    demo.move_to_new_folder(master)
    diverge(replica)
    assert user_all(master) != user_all(replica)
    proc = syncsh("replicate", "--master", master, "-s", exec_target(replica), "-v",
                  "-u", "dpc22")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().splitlines() == ["USER dpc22"]
    assert user_all(master) == user_all(replica)
    proc = syncsh("replicate", "--master", master, "-s", exec_target(replica, "-v", "-v"),
                  "-u", "dpc22")
    assert proc.stderr.decode().splitlines() == ["   USER_ALL dpc22", "   ENDUSER"]


def test_user_mode_resets_a_recreated_account(pair):
    master, replica = pair
    run_commands(replica, ["reset dpc22", "create user.dpc22 0000000000000001 NIL 0 1"])
    proc = syncsh("replicate", "--master", master, "-s", exec_target(replica, "-v", "-v"),
                  "-u", "dpc22")
    assert proc.returncode == 0
    assert "   RESET dpc22" in proc.stderr.decode().splitlines()
    assert user_all(master) == user_all(replica)


def test_dry_run_shows_and_sends_no_write(pair):
    master, replica = pair
    run_commands(replica, DAMAGE)
    before = user_all(replica)
    proc = syncsh("replicate", "--master", master, "-s", exec_target(replica), "--dry-run",
                  "-m", "user.dpc22")
    assert proc.returncode == 0
    out = proc.stdout.decode().splitlines()
    assert "SETFLAGS 4140 ()" in out and "SETSEEN dpc22 1062968731 4156 1062968731 1,3697:4140" in out
    upload = next(line for line in out if line.startswith("UPLOAD "))
    assert upload.startswith("UPLOAD 4156 1062968700 PARSED 000000000000000000000000 1 ")
    assert "bytes>" in upload and "Subject" not in upload
    assert user_all(replica) == before


@pytest.mark.parametrize("cut", [60, 200, 400, 700, 1100, 1400])
def test_a_run_cut_short_is_completed_by_the_next(pair, tmp_path, cut):
    """The replica's input ends after `cut` bytes, mid-command; the next run converges."""
    master, replica = pair
    demo.move_to_new_folder(master)
    diverge(replica)
    cutter = tmp_path / "cut.py"        # passes bytes on at once (head -c would buffer)
    cutter.write_text("import os, sys\nn = int(sys.argv[1])\nwhile n > 0:\n"
                      "    d = os.read(0, min(n, 65536))\n    if not d: break\n"
                      "    os.write(1, d)\n    n -= len(d)\n")
    script = tmp_path / "cut.sh"
    script.write_text(f"#!/bin/sh\n{sys.executable} {cutter} {cut} | {sys.executable} -m syncsh "
                      f"server --store {replica}\n")
    script.chmod(0o755)
    proc = syncsh("replicate", "--master", master, "-s", f"exec:{script}", "-u", "dpc22",
                  "--timeout", "10")
    assert proc.returncode in (0, 2)
    assert b"Traceback" not in proc.stderr
    proc = syncsh("replicate", "--master", master, "-s", exec_target(replica), "-u", "dpc22")
    assert proc.returncode == 0, proc.stderr
    assert user_all(master) == user_all(replica)


def test_bad_arguments(pair):
    master, replica = pair
    for args in (["--master", "/nonexistent", "-s", "demo:cyrus-2", "-u", "dpc22"],
                 ["--master", master, "-s", "demo:cyrus-2"],
                 ["--master", master, "-s", "bogus", "-u", "dpc22"]):
        proc = syncsh("replicate", *args)
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    proc = syncsh("replicate", "--master", master, "-s", exec_target(replica), "-m", "shared.x")
    assert proc.returncode == 1 and b"only user." in proc.stderr


def test_a_store_is_not_replicated_onto_itself(pair):
    master, _ = pair
    proc = syncsh("replicate", "--master", master, "-s", exec_target(master), "-m", "user.dpc22")
    assert proc.returncode == 0           # exec: could be anything: it is not second-guessed
    proc = syncsh("replicate", "--master", os.path.join(demo.ensure_pair(), "cyrus-1") + "/", "-s",
                  "demo:cyrus-1", "-m", "user.dpc22")
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == ("syncsh: demo:cyrus-1 is the master store itself: "
                                            "replicate copies a master to another store")


def test_a_user_on_neither_end_is_said_not_replicated(pair):
    master, replica = pair
    proc = syncsh("replicate", "--master", master, "-s", exec_target(replica), "-u", "nosuch",
                  "dpc22")
    assert proc.returncode == 1
    assert proc.stderr.decode().strip() == \
        "syncsh replicate: nosuch: no mailbox on either end: check the name"


@pytest.mark.parametrize("door", ["command line", "transcript"])
def test_one_failing_user_is_reported_and_the_next_replicated_from_every_door(door, tmp_path):
    """One runner, one policy: `syncsh replicate` and a transcript's `$ replicate` both go
    on past a user the run cannot replicate, say so, and fail at the end."""
    pair_dir = demo.ensure_pair()
    master = os.path.join(pair_dir, "cyrus-1")
    ends = ("demo:cyrus-1", "demo:cyrus-2", "--user", "dpc22")
    assert syncsh("diff", *ends).returncode == 1            # the pair as created differs
    failure = "syncsh replicate: nosuch: no mailbox on either end: check the name"
    if door == "command line":
        proc = syncsh("replicate", "--master", master, "-s", "demo:cyrus-2", "-u", "nosuch",
                      "dpc22")
        assert (proc.returncode, proc.stderr.decode().strip()) == (1, failure)
    else:
        script = tmp_path / "replicate.txt"
        script.write_text(f"C: $ replicate -s cyrus-2 -u nosuch dpc22\nS: {failure}\n")
        proc = syncsh("replay", "--host", "cyrus-1=demo:cyrus-1", "--host",
                      "cyrus-2=demo:cyrus-2", str(script))
        assert proc.returncode == 0, proc.stdout.decode()
    assert syncsh("diff", *ends).returncode == 0            # dpc22 was replicated after it
