"""One guard rail, one audit trail, every door: replay's literal smuggling, transcripts'
%host lines, read_only targets, the audit log and private files."""

import os
import socket
import stat
import sys
import threading

import pytest

from conftest import syncsh, teed_server

SMUGGLED = "user.dpc22.smuggled"

# A write hidden after, or inside, a literal of a harmless command: the C: lines join
# into one step, which the server may read as two commands.
LEGACY_SMUGGLES = {
    "after {0}": ["QUOTA {0}", f"ADDSUB {SMUGGLED}"],
    "after {n+}": ["QUOTA {5+}", "abc", f"ADDSUB {SMUGGLED}"],
    "several literals": ["QUOTA {1+}", "x {0}", f"ADDSUB {SMUGGLED}"],
    "inside a literal": [f"QUOTA {{{len('ADDSUB ' + SMUGGLED)}}}", f"ADDSUB {SMUGGLED}"],
}


def smuggling_transcript(path, lines, *, user_line="USER dpc22", host="cyrus-2"):
    body = [f"C: $ ssh {host} sync_server", "S: ...", f"C: {user_line}", "S: ..."]
    body += [f"C: {line}" for line in lines] + ["S: ..."]
    path.write_text("\n".join(body) + "\n")
    return path


def pair_and_logger(tmp_path):
    from syncsh import demo
    demo.init(str(tmp_path / "p"))
    return teed_server(tmp_path, tmp_path / "p" / "cyrus-2")


def subscriptions(store) -> str:
    proc = syncsh(f"exec:{sys.executable} -m syncsh server --store {store}", "-c", "user dpc22",
                  "-c", "lsub", "--format", "raw")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode()


@pytest.mark.parametrize("variant", sorted(LEGACY_SMUGGLES))
def test_literal_smuggling_is_refused_and_sends_nothing_reference_server(tmp_path, variant):
    target, log = pair_and_logger(tmp_path)
    script = smuggling_transcript(tmp_path / "t.txt", LEGACY_SMUGGLES[variant])
    proc = syncsh("replay", "--host", f"cyrus-2={target}", str(script))
    out = proc.stdout.decode()
    assert proc.returncode == 2, out
    assert "refused: ADDSUB" in out and "replay it with --allow-writes" in out
    assert not log.exists() or log.read_bytes() == b""        # not even a connection's worth
    assert SMUGGLED not in subscriptions(tmp_path / "p" / "cyrus-2")


def test_the_guard_judges_every_line_of_a_command():
    from syncsh import guard
    from syncsh.protocol import commands
    from syncsh.targets import Target
    target = Target("exec:x", "exec")
    for lines in LEGACY_SMUGGLES.values():
        verdict = guard.judge(commands.LEGACY, "\r\n".join(lines), target)
        assert verdict.action == guard.CONFIRM and verdict.name.startswith("ADDSUB")
    verdict = guard.judge(commands.CSYNC, "NOOP {0}\r\nAPPLY SUB %(USERID u MBOXNAME user.u)",
                          target)
    assert verdict.action == guard.CONFIRM and verdict.name.startswith("APPLY SUB")
    # a literal's bytes that cannot name a command (a mailbox list's end, a number) are data
    assert guard.judge(commands.CSYNC, "GET MAILBOXES (user.u {0+}\r\n)", target).action == \
        guard.SEND
    assert guard.judge(commands.CSYNC, "GET MAILBOXES ({6+}\r\nuser.u)", target).action == \
        guard.CONFIRM                # text that could be a command: unknown, so suspect
    assert guard.judge(commands.LEGACY, "QUOTA user.dpc22", target,
                       read_only=True).action == guard.SEND
    assert guard.judge(commands.LEGACY, "ADDSUB x", target,
                       allow_writes=True, read_only=True).action == guard.REFUSE


def test_the_session_gate_refuses_what_no_door_allowed(tmp_path):
    """Whatever a door forgets, the session sends no write it was not allowed."""
    from syncsh.connect import open_session
    from syncsh.errors import WriteRefused
    from syncsh.targets import parse_target
    target, log = pair_and_logger(tmp_path)
    session = open_session(parse_target(target))         # no door: the strictest gate
    try:
        session.run("user dpc22")
        with pytest.raises(WriteRefused):
            session.run(f"quota {{0}}\r\naddsub {SMUGGLED}")
        session.run("enduser")
    finally:
        session.close()
    assert b"addsub" not in log.read_bytes()


# ---------------------------------------------------------------------- real Cyrus

def cyrus_smuggles(user):
    write = f"APPLY SUB %(USERID {user} MBOXNAME user.{user}.smuggled)"
    return {
        "after {0}": ["NOOP {0}", write],
        "after {n+}": ["NOOP {0+}", write],
        "several literals": ["GET META {1+}", f"x {{0+}}", write],
        "inside a literal": [f"NOOP {{{len(write)}}}", write],
    }


def cyrus_subscriptions(cyrus, user) -> str:
    proc = syncsh(f"unix:{cyrus.replica_socket}", "--format", "raw", "-c", f"GET META {user}")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode()


def test_literal_smuggling_is_refused_by_real_cyrus(cyrus, tmp_path):
    from test_csync import fresh_user
    user = fresh_user(cyrus, 1, prefix="smug")
    target = f"unix:{cyrus.replica_socket}"
    for variant, lines in cyrus_smuggles(user).items():
        script = smuggling_transcript(tmp_path / f"{variant}.txt", lines, user_line="NOOP")
        proc = syncsh("replay", "--host", f"cyrus-2={target}", str(script))
        assert proc.returncode == 2, (variant, proc.stdout)
        assert "refused: APPLY SUB" in proc.stdout.decode(), variant
        assert "smuggled" not in cyrus_subscriptions(cyrus, user), variant
    # the check on the server's side sees such a write when it is allowed
    script = smuggling_transcript(tmp_path / "allowed.txt", cyrus_smuggles(user)["after {0}"],
                                  user_line="NOOP")
    syncsh("replay", "--allow-writes", "--host", f"cyrus-2={target}", str(script))
    assert f"user.{user}.smuggled" in cyrus_subscriptions(cyrus, user)


# ---------------------------------------------------------------------- %host

def test_a_transcript_host_that_runs_a_command_does_not_run(tmp_path):
    ran = tmp_path / "ran"
    script = tmp_path / "t.txt"
    script.write_text(f'%host cyrus-2 = exec:sh -c "id > {ran}; exec sync_server"\n'
                      "C: $ ssh cyrus-2 sync_server\nS: ...\nC: user dpc22\nS: ...\n")
    proc = syncsh("replay", str(script))
    out = proc.stdout.decode()
    assert proc.returncode == 2 and not ran.exists()
    assert f"{script}:1: %host cyrus-2 = exec:sh" in out and "--trust-hosts" in out
    lint = syncsh("replay", "--lint", str(script))
    assert lint.returncode == 1
    assert f"{script}:1: %host cyrus-2 = exec:sh" in lint.stdout.decode()
    assert "runs a command" in lint.stdout.decode()


class Listener:
    """A TCP server posing as a Cyrus replica that asks for a password: it keeps every
    byte it is sent."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.connections = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(5)
                conn.sendall(b"* SASL PLAIN LOGIN\r\n* OK evil Cyrus sync server 3.6.1\r\n")
                try:
                    while data := conn.recv(4096):
                        self.received += data
                        conn.sendall(b"NO no\r\n")
                except OSError:
                    pass

    def close(self):
        self.sock.close()


def test_a_transcript_host_never_gets_credentials(tmp_path):
    listener = Listener()
    try:
        script = tmp_path / "t.txt"
        script.write_text(f"%host cyrus-2 = csync://admin@127.0.0.1:{listener.port}\n"
                          "C: $ ssh cyrus-2 sync_server\nS: ...\nC: NOOP\nS: ...\n")
        env = dict(os.environ, SYNCSH_PASSWORD="hunter2-real")
        proc = syncsh("replay", str(script), env=env)
        assert proc.returncode == 2 and "%host cyrus-2 = csync://" in proc.stdout.decode()
        assert listener.connections == 0
        # even trusted, a host the transcript chose is offered no password
        proc = syncsh("replay", "--trust-hosts", str(script), env=env)
        assert proc.returncode == 2
        assert "no credentials" in proc.stdout.decode()
        assert b"AUTHENTICATE" not in listener.received
        assert b"hunter2" not in listener.received
    finally:
        listener.close()


# ---------------------------------------------------------------------- read_only targets

def read_only_config(tmp_path, target):
    config = tmp_path / "config.toml"
    config.write_text(f'[targets.prod]\nurl = "{target}"\nread_only = true\n')
    return str(config)


def test_read_only_target_refuses_every_door(tmp_path, pair):
    from syncsh import demo
    target, log = pair_and_logger(tmp_path)
    config = read_only_config(tmp_path, target)
    env = dict(os.environ, SYNCSH_CONFIG=config)
    master = tmp_path / "p" / "cyrus-1"
    demo.move_to_new_folder(str(master))        # the replica lacks something: a write is due
    runs = {
        "replicate": ("replicate", "--master", str(master), "-s", "prod", "-u", "dpc22"),
        "-c": ("prod", "--allow-writes", "-c", "user dpc22", "-c", "addsub user.dpc22.x"),
        "\\upload": ("prod", "--allow-writes", "-c", f"\\upload {tmp_path / 'config.toml'} x"),
    }
    script = tmp_path / "writes.txt"
    script.write_text("user dpc22\naddsub user.dpc22.x\n")
    runs["-f"] = ("prod", "--allow-writes", "-f", str(script))
    runs["stdin"] = ("prod", "--allow-writes")
    for door, args in runs.items():
        proc = syncsh(*args, env=env, input=script.read_bytes() if door == "stdin" else None)
        assert proc.returncode == 2, (door, proc.stderr)
        assert b"prod is read_only in the config" in proc.stderr, door
        assert not log.exists() or log.read_bytes() == b"", door
    script = smuggling_transcript(tmp_path / "t.txt", ["ADDSUB user.dpc22.x"])
    proc = syncsh("replay", "--allow-writes", "--host", "cyrus-2=prod", str(script), env=env)
    assert proc.returncode == 2 and b"prod is read_only in the config" in proc.stdout
    assert not log.exists() or log.read_bytes() == b""
    # a dry run still shows what replicate would do, and sends only reads
    proc = syncsh("replicate", "--dry-run", "--master", str(master), "-s", "prod", "-u",
                  "dpc22", env=env)
    assert proc.returncode == 0, proc.stderr
    listed = [line for line in proc.stdout.decode().splitlines() if line.strip()]
    assert f"(dry run: {len(listed)} command(s) listed" in proc.stderr.decode()
    sent = log.read_bytes().upper()
    assert b"UPLOAD" not in sent and b"SETSEEN" not in sent and b"UIDLAST" not in sent


def test_read_only_in_the_repl_refuses_upload(tmp_path, capsys):
    from test_transcripts import run_repl_keys
    target, log = pair_and_logger(tmp_path)
    config = read_only_config(tmp_path, target)
    run_repl_keys(f"\\upload {config} user.dpc22\ny\nuser dpc22\naddsub x\ny\n\x04",
                  "--config", config, "prod")
    err = capsys.readouterr().err
    assert "refused: \\upload writes to the replica and prod is read_only" in err
    assert b"addsub" not in log.read_bytes().lower()


# ---------------------------------------------------------------------- audit, files

def audit_lines():
    path = os.path.join(os.environ["SYNCSH_DATA_DIR"], "audit.log")
    with open(path, encoding="utf-8") as handle:
        return [line.rstrip("\n").split("\t") for line in handle]


def test_one_audit_entry_per_write_from_every_door_and_private_files(tmp_path, capsys):
    from syncsh import demo
    from test_transcripts import run_repl_keys
    target, log = pair_and_logger(tmp_path)
    # the REPL, confirmed
    run_repl_keys("user dpc22\naddsub user.dpc22.repl\ny\nAUTHENTICATE PLAIN c2VjcmV0\n"
                  "\\history\n\x04", target)
    # one-shot
    proc = syncsh(target, "--allow-writes", "-c", "user dpc22", "-c", "addsub user.dpc22.oneshot")
    assert proc.returncode == 0, proc.stderr
    # replay, with a literal (summarised by size in the log)
    script = tmp_path / "t.txt"
    script.write_text("C: $ ssh cyrus-2 sync_server\nS: ...\nC: user dpc22\nS: ...\n"
                      "C: addsub {14+}\nC: user.dpc22.lit\nS: ...\n")
    proc = syncsh("replay", "--allow-writes", "--host", f"cyrus-2={target}", str(script))
    assert proc.returncode == 0, proc.stdout
    # replicate
    demo.move_to_new_folder(str(tmp_path / "p" / "cyrus-1"))
    proc = syncsh("replicate", "--master", str(tmp_path / "p" / "cyrus-1"), "-s", target,
                  "-u", "dpc22")
    assert proc.returncode == 0, proc.stderr
    entries = audit_lines()
    doors = [e[3] for e in entries]
    assert all(len(e) == 6 and e[2] == target for e in entries)
    assert doors.count("repl") == 1 and doors.count("one-shot") == 1
    assert doors.count("replay") == 1 and doors.count("replicate") >= 3
    repl, one_shot, replay = entries[0], entries[1], entries[2]
    assert repl[4] == "addsub user.dpc22.repl" and repl[5] == "OK Addsub completed"
    assert one_shot[4] == "addsub user.dpc22.oneshot"
    assert replay[4] == "addsub {14+}[14 bytes]" and replay[5].startswith("OK")
    assert {e[4].split()[0].upper() for e in entries[3:]} >= {"UPLOAD", "SETSEEN"}
    # the log holds the last session (replicate's): one entry for each write it carried
    from syncsh.protocol import commands
    sent_writes = sum(1 for line in log.read_bytes().decode().splitlines()
                      if commands.lookup(commands.LEGACY, line) is not None
                      and commands.is_write(commands.LEGACY, line))
    assert doors.count("replicate") == sent_writes
    # the typed AUTHENTICATE is masked in \history; nothing secret anywhere
    out = capsys.readouterr()
    assert "AUTHENTICATE PLAIN ***" in out.out and "c2VjcmV0" not in out.out + out.err
    data = os.environ["SYNCSH_DATA_DIR"]
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    created = [os.path.join(d, f) for d, _, files in os.walk(data) for f in files]
    assert {"audit.log", "history"} <= {os.path.basename(p) for p in created}
    for path in created:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    history = open(os.path.join(data, "history")).read()
    assert "c2VjcmV0" not in history and "\n+y\n" not in history


def test_children_get_no_secrets(tmp_path):
    seen = tmp_path / "env"
    target = f"exec:sh -c 'env > {seen}; exec {sys.executable} -m syncsh server --store " \
             f"{tmp_path / 's'}'"
    proc = syncsh(target, "-c", "quota x", env=dict(os.environ, SYNCSH_PASSWORD="hunter2"))
    assert seen.exists(), proc.stderr
    assert "hunter2" not in seen.read_text() and "SYNCSH_PASSWORD" not in seen.read_text()
    # the reference server made its store: its owner's only
    store = tmp_path / "s"
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o700
    for directory, dirs, files in os.walk(store):
        for name in dirs:
            assert stat.S_IMODE(os.stat(os.path.join(directory, name)).st_mode) == 0o700
        for name in files:
            assert stat.S_IMODE(os.stat(os.path.join(directory, name)).st_mode) == 0o600, name


def test_a_recording_is_private_and_masks_a_typed_login(tmp_path, capsys):
    from test_transcripts import run_repl_keys
    record = tmp_path / "rec.txt"
    run_repl_keys(f"\\trace on\n\\record {record}\nLOGIN admin hunter2\nquota user.dpc22\n\x04",
                  "demo:cyrus-2")
    text = record.read_text()
    assert "hunter2" not in text and "quota user.dpc22" in text
    assert stat.S_IMODE(os.stat(record).st_mode) == 0o600
    err = capsys.readouterr().err
    assert "hunter2" not in err and "LOGIN ***" in err
    # the demo pair the session used (its database's journal files included) is private
    data = os.environ["SYNCSH_DATA_DIR"]
    created = [os.path.join(d, f) for d, _, files in os.walk(data) for f in files]
    assert any(p.endswith("store.sqlite3") for p in created)
    for path in created:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path


# ---------------------------------------------------------------------- pasted snippets

DOCUMENT_BLOCK = """C: $ ssh -x cyrus-2 /usr/local/cyrus/bin/sync_server
S: * Sync Server v0.0 [EXPERIMENTAL]
C: user_some dpc22 user.dpc22
S: ** 6b98205c796c6c61 user.dpc22 \\
S:     "dpc22   lrswipcda       anonymous       0      " 4151 1062945305
  … (same eight lines as before) …
S: OK User_Some finished
C: select user.dpc22
S: OK 6b98205c796c6c61 4151 1062945305
# Remove message with UID "1" (sitting in the inbox since January, no GUID)
C: expunge 1
S: OK Expunge Complete"""


@pytest.mark.parametrize("wrap", ["    ", "\t", "> ", ">> ", "md"])
def test_an_indented_or_quoted_snippet_runs_only_its_client_lines(wrap):
    from syncsh.repl.paste import snippet_commands
    if wrap == "md":
        text = "```\n" + DOCUMENT_BLOCK + "\n```"
    else:
        text = "\n".join(wrap + line for line in DOCUMENT_BLOCK.split("\n"))
    commands, skipped = snippet_commands(text)
    assert commands == ["user_some dpc22 user.dpc22", "select user.dpc22", "expunge 1"]
    assert skipped == ["$ ssh -x cyrus-2 /usr/local/cyrus/bin/sync_server"]


def test_a_partly_quoted_email_runs_only_its_quoted_client_lines():
    from syncsh.repl.paste import snippet_commands
    text = "Hi,\nwhat I ran:\n> C: user dpc22\n> S: OK Locked dpc22\n> C: lsub\nThanks\nBob"
    assert snippet_commands(text) == (["user dpc22", "lsub"], [])


def test_a_pasted_four_space_block_of_the_document_runs_its_client_lines(tmp_path, capsys):
    """Pasted (bracketed paste) into the REPL on a logging target: the server receives the
    C: lines and nothing else."""
    from test_transcripts import run_repl_keys
    target, log = pair_and_logger(tmp_path)
    block = "\n".join("    " + line for line in DOCUMENT_BLOCK.split("\n"))
    run_repl_keys("\x1b[200~" + block + "\x1b[201~\ny\n\x04", "--allow-writes", target)
    sent = log.read_bytes().decode()
    assert sent.splitlines()[:3] == ["user_some dpc22 user.dpc22", "select user.dpc22",
                                     "expunge 1"]
    assert "C:" not in sent and "S:" not in sent and "ssh" not in sent
    err = capsys.readouterr().err
    assert "not run (a shell line): $ ssh -x cyrus-2" in err


# ---------------------------------------------------------------------- diff roles

def test_repl_diff_roles_are_explicit(tmp_path, capsys):
    from test_transcripts import run_repl_keys
    # on the default target (the demo replica), one argument: the demo pair's own roles
    run_repl_keys("\\diff demo:cyrus-1 --user dpc22\n\\diff demo:cyrus-1 . --user dpc22\n\x04",
                  "demo:cyrus-2", "--format", "raw")
    out = capsys.readouterr().out
    assert out.count("uidlast 4156 on the master, 4151 on the replica") == 2
    # two exec: targets: the REPL asks which role this one plays
    from syncsh import demo
    master, replica = demo.init(str(tmp_path / "p"))
    here = f"exec:{sys.executable} -m syncsh server --store {replica}"
    other = f"exec:{sys.executable} -m syncsh server --store {master}"
    run_repl_keys(f"\\diff '{other}' --user dpc22\nr\n\x04", here, "--format", "raw")
    captured = capsys.readouterr()
    assert "uidlast 4156 on the master, 4151 on the replica" in captured.out


def test_suggested_replicate_is_quoted_for_a_shell(tmp_path):
    import shlex
    from syncsh import demo
    master, replica = demo.init(str(tmp_path / "p q"))
    ends = [f"exec:{sys.executable} -m syncsh server --store '{store}'"
            for store in (master, replica)]
    proc = syncsh("diff", *ends, "--user", "dpc22", "--master-store", master, "--no-color")
    out = proc.stdout.decode()
    assert proc.returncode == 1, proc.stderr
    command = f"syncsh replicate --master {shlex.quote(master)} -s {shlex.quote(ends[1])}"
    assert command in out.replace("\n", " ") or command in out, out
    step = next(line for line in out.splitlines() if "syncsh replicate" in line)
    shlex.split(step[step.index("syncsh replicate"):])        # a shell could read it


def test_upload_is_audited_with_its_door_and_literals_by_size(cyrus, tmp_path):
    from test_csync import fresh_user
    user = fresh_user(cyrus, 1, prefix="aud")
    message = tmp_path / "m.eml"
    body = f"From: a@example.org\r\nTo: {user}@example.org\r\nSubject: audit\r\n\r\nsecret-body\r\n"
    message.write_bytes(body.encode())
    # an exec: target: Cyrus' own sync_server on stdin/stdout, as cyrus: starts it
    target = ("exec:runuser -u cyrus -- env CYRUS_SERVICE=csync CYRUS_ID=0 "
              f"/usr/lib/cyrus/bin/sync_server -C {cyrus.replica_conf} -X")
    proc = syncsh(target, "--allow-writes", "-c", f"\\upload {message} user.{user}",
                  "-c", f"APPLY SUB %(USERID {user} MBOXNAME user.{user})")
    assert proc.returncode == 0, proc.stderr
    entries = audit_lines()
    assert [e[3] for e in entries] == ["upload", "upload", "one-shot"]
    apply_message, apply_mailbox, sub = entries
    assert apply_message[4].startswith("APPLY MESSAGE (%{") and \
        f"[{len(body)} bytes]" in apply_message[4] and "secret-body" not in apply_message[4]
    assert apply_mailbox[4].startswith("APPLY MAILBOX %(") and apply_mailbox[5].startswith("OK")
    assert sub[4] == f"APPLY SUB %(USERID {user} MBOXNAME user.{user})"
    assert all(e[2] == target for e in entries)
    data = os.environ["SYNCSH_DATA_DIR"]
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(data, "audit.log")).st_mode) == 0o600


def test_files_an_older_version_left_readable_are_made_private(tmp_path, capsys):
    from test_transcripts import run_repl_keys
    data = os.environ["SYNCSH_DATA_DIR"]
    os.makedirs(data)
    os.chmod(data, 0o755)
    for name in ("history", "audit.log"):
        with open(os.path.join(data, name), "w") as handle:
            handle.write("")
        os.chmod(os.path.join(data, name), 0o644)
    target, log = pair_and_logger(tmp_path)
    run_repl_keys("user dpc22\naddsub user.dpc22.x\ny\n\x04", target)
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    for name in ("history", "audit.log"):
        assert stat.S_IMODE(os.stat(os.path.join(data, name)).st_mode) == 0o600, name
    # a recording's own directory is the user's: left as it is
    elsewhere = tmp_path / "notes"
    elsewhere.mkdir(mode=0o755)
    os.chmod(elsewhere, 0o755)
    run_repl_keys(f"\\record {elsewhere / 'r.txt'}\nquota user.dpc22\n\x04", "demo:cyrus-2")
    assert stat.S_IMODE(os.stat(elsewhere).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(elsewhere / "r.txt").st_mode) == 0o600


def test_a_trusted_transcript_command_runs_without_credentials(tmp_path):
    seen = tmp_path / "env"
    script = tmp_path / "t.txt"
    script.write_text(f"%host r = exec:sh -c 'env > {seen}; exec {sys.executable} -m syncsh "
                      f"server --store {tmp_path / 's'}'\n"
                      "C: $ ssh r sync_server\nS: ...\nC: quota x\nS: ...\n")
    env = dict(os.environ, SYNCSH_PASSWORD="hunter2", SSH_AUTH_SOCK=str(tmp_path / "agent"))
    proc = syncsh("replay", "--trust-hosts", str(script), env=env)
    assert proc.returncode == 0, proc.stdout
    text = seen.read_text()
    assert "hunter2" not in text and "SSH_AUTH_SOCK" not in text
    # the same command named by the user keeps the agent (it is theirs to give)
    target = script.read_text().split("= ", 1)[1].split("\n", 1)[0]
    proc = syncsh("replay", "--host", f"r={target}", str(script), env=env)
    assert proc.returncode == 0, proc.stdout
    assert "SSH_AUTH_SOCK" in seen.read_text() and "hunter2" not in seen.read_text()


def test_read_only_flag_refuses_replicate_and_replay_even_on_demo(tmp_path, pair):
    from syncsh import demo
    master, replica = pair
    demo.move_to_new_folder(master)
    proc = syncsh("replicate", "--read-only", "--master", master, "-s", "demo:cyrus-2", "-u",
                  "dpc22")
    assert proc.returncode == 2 and b"--read-only is set" in proc.stderr
    script = smuggling_transcript(tmp_path / "t.txt", ["ADDSUB user.dpc22.x"])
    proc = syncsh("replay", "--read-only", str(script))
    assert proc.returncode == 2 and b"refused: ADDSUB writes to the replica and --read-only" \
        in proc.stdout


def test_a_transcript_that_sets_itself_up_is_an_error_not_a_crash(tmp_path):
    script = tmp_path / "self.txt"
    script.write_text("%setup replay self.txt\nC: $ ssh cyrus-2 sync_server\nS: ...\n")
    proc = syncsh("replay", str(script))
    assert proc.returncode == 2 and b"nested more than 8 deep" in proc.stdout


def test_one_shot_shows_a_typed_authenticate_masked():
    for fmt in ("json", "table"):
        proc = syncsh("demo:cyrus-2", "--format", fmt, "-c", "authenticate PLAIN c2VjcmV0",
                      "-c", "LOGIN admin hunter2")
        out = proc.stdout.decode() + proc.stderr.decode()
        assert "c2VjcmV0" not in out and "hunter2" not in out, fmt
        assert "PLAIN ***" in out, fmt


def test_repl_diff_takes_the_roles_from_a_configured_pair(tmp_path, capsys):
    from syncsh import demo
    from test_transcripts import run_repl_keys
    master, replica = demo.init(str(tmp_path / "p"))
    config = tmp_path / "config.toml"
    config.write_text(f'[targets]\nm = "exec:{sys.executable} -m syncsh server --store {master}"\n'
                      f'r = "exec:{sys.executable} -m syncsh server --store {replica}"\n'
                      '[pairs.main]\nmaster = "m"\nreplica = "r"\n')
    # on the replica, naming only the master: the pair says who is who, nothing is asked
    run_repl_keys("\\diff m --user dpc22\n\x04", "--config", str(config), "r", "--format", "raw")
    captured = capsys.readouterr()
    assert "uidlast 4156 on the master, 4151 on the replica" in captured.out
    assert "[m/r]" not in captured.out + captured.err
