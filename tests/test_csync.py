"""The modern dialect against a real Cyrus 3.6 pair (tests/servers/cyrus.py)."""

import hashlib
import itertools
import os
import sys

import pytest

from conftest import require_cyrus, syncsh
from servers.cyrus import CyrusPair

_names = itertools.count(1)


def fresh_user(cyrus, count=3, prefix="u"):
    user = f"{prefix}{os.getpid() % 1000}x{next(_names)}"
    cyrus.seed(user, count)
    cyrus.sync(user)
    return user


def password_env(password="secret"):
    return dict(os.environ, SYNCSH_PASSWORD=password)


def targets(cyrus):
    return {
        "csync": f"csync://admin@127.0.0.1:{cyrus.replica_port}",
        "unix": f"unix:{cyrus.replica_socket}",
        "cyrus": f"cyrus:{cyrus.replica_conf}",
    }


@pytest.mark.parametrize("kind", ["csync", "unix", "cyrus"])
def test_gets_render_as_tables_over_every_transport(cyrus, kind):
    user = fresh_user(cyrus)
    target = targets(cyrus)[kind]
    proc = syncsh(target, "--format", "table", "-c", f"GET USER {user}",
                  "-c", f"GET MAILBOXES (user.{user})", "-c", f"GET FULLMAILBOX user.{user}",
                  "-c", f"GET META {user}", env=password_env())
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr
    assert "(csync dialect)" in out
    assert out.count(f"user.{user}") >= 3 and "highestmodseq" in out and "sync crc" in out
    import re
    assert re.search(rf"{user}\s+lrswipkxtecdan", out)               # the ACL, decoded
    assert "UID    MODSEQ  INTERNALDATE" in out and "3 message(s)" in out
    assert "SYNC_CRC agrees" in out and "SYNC_CRC_ANNOT agrees" in out
    assert out.count("OK success") == 4


def test_raw_and_json(cyrus):
    user = fresh_user(cyrus, 2)
    proc = syncsh(targets(cyrus)["unix"], "-c", f"GET FULLMAILBOX user.{user}")
    lines = proc.stdout.decode().splitlines()
    assert lines[0].startswith("* OK ") and lines[1].startswith("* MAILBOX %(UNIQUEID ")
    assert lines[-1] == "OK success"
    import json
    proc = syncsh(targets(cyrus)["unix"], "--format", "json", "-c", f"GET FULLMAILBOX user.{user}")
    objects = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    messages = [o for o in objects if o["type"] == "message"]
    assert len(messages) == 2 and all(len(m["guid"]) == 40 and "modseq" in m for m in messages)


def test_wrong_password_is_one_line(cyrus):
    proc = syncsh(targets(cyrus)["csync"], "-c", "NOOP", env=password_env("wrong"))
    err = proc.stderr.decode().strip()
    assert proc.returncode == 2
    assert err == (f"syncsh: login as admin to {targets(cyrus)['csync']} failed: "
                   "NO authentication failure")
    assert "wrong" not in err


def test_password_file_and_no_password(cyrus, tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("secret\n")
    env = dict(os.environ)
    env.pop("SYNCSH_PASSWORD", None)
    proc = syncsh(targets(cyrus)["csync"], "--password-file", str(secret), "-c", "NOOP", env=env)
    assert proc.returncode == 0, proc.stderr
    proc = syncsh(targets(cyrus)["csync"], "-c", "NOOP", env=env)
    assert proc.returncode == 2 and b"--password-file FILE or SYNCSH_PASSWORD" in proc.stderr


def test_non_admin_login_is_reported(cyrus):
    user = fresh_user(cyrus, 1)
    target = f"csync://{user}@127.0.0.1:{cyrus.replica_port}"
    proc = syncsh(target, "-c", "NOOP", env=password_env())
    assert proc.returncode == 2
    assert b"is not a Cyrus administrator" in proc.stderr


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_sasl_mechanisms(cyrus, mech):
    proc = syncsh(targets(cyrus)["csync"], "--sasl-mech", mech, "-c", "NOOP", env=password_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().splitlines()[-1] == "OK Noop completed"


def test_scram_sha_256(tmp_path):
    require_cyrus()
    pair = CyrusPair(f"/tmp/syncsh-scram-{os.getpid()}", sasl_mechs="SCRAM-SHA-256 PLAIN")
    try:
        target = f"csync://admin@127.0.0.1:{pair.replica_port}"
        proc = syncsh(target, "-c", "NOOP", env=password_env())
        assert proc.returncode == 0, proc.stderr           # SCRAM is picked when offered
        proc = syncsh(target, "--sasl-mech", "SCRAM-SHA-256", "-c", "NOOP",
                      env=password_env("wrong"))
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    finally:
        pair.destroy()


def test_apply_is_refused_without_allow_writes(cyrus):
    user = fresh_user(cyrus, 1)
    for command in (f"APPLY UNMAILBOX user.{user}", "APPLY FORCE %()",
                    f"RESTORE MAILBOX %(MBOXNAME user.{user} RECORD ())"):
        proc = syncsh(targets(cyrus)["unix"], "-c", command)
        assert proc.returncode == 2 and proc.stdout == b"", command
        assert b"pass --allow-writes" in proc.stderr
    # RESERVE and CAPABILITIES are not writes
    proc = syncsh(targets(cyrus)["unix"], "-c", "APPLY CAPABILITIES ()",
                  "-c", f"APPLY RESERVE %(PARTITION default MBOXNAME (user.{user}) GUID ({'1' * 40}))")
    assert proc.returncode == 0, proc.stderr
    assert f"* MISSING ({'1' * 40})" in proc.stdout.decode()


def test_a_get_that_would_swallow_the_next_line_is_never_sent(cyrus):
    for command in ("GET USER", "GET MAILBOXES (user.a", 'GET USER "open', "GET FULLMAILBOX"):
        proc = syncsh(targets(cyrus)["unix"], "-c", command, "-c", "NOOP")
        assert proc.returncode == 2, command
        assert proc.stdout == b"" and len(proc.stderr.splitlines()) == 1


def test_upload_meta_command(cyrus, tmp_path):
    user = fresh_user(cyrus, 2)
    message = tmp_path / "m.eml"
    body = f"From: up@example.org\r\nTo: {user}@example.org\r\nSubject: upload\r\n\r\nhello\r\n"
    message.write_bytes(body.encode())
    guid = hashlib.sha1(body.encode()).hexdigest()
    proc = syncsh(targets(cyrus)["unix"], "-c", f"\\upload {message} user.{user}")
    assert proc.returncode == 2 and b"--allow-writes" in proc.stderr
    proc = syncsh(targets(cyrus)["unix"], "--allow-writes", "--format", "json",
                  "-c", f"\\upload {message} user.{user} $Uploaded",
                  "-c", f"GET FULLMAILBOX user.{user}")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    import json
    records = [json.loads(line) for line in out.splitlines()]       # JSON lines, every one
    uploads = [r["text"] for r in records if r["type"] == "upload"]
    assert len(uploads) == 1 and f"as UID 3 (GUID {guid}" in uploads[0]
    added = [r for r in records if r.get("type") == "message" and r["guid"] == guid]
    assert len(added) == 1 and added[0]["uid"] == 3 and added[0]["flags"] == ["$Uploaded"]
    assert added[0]["size"] == len(body)


def test_upload_in_the_console_says_what_it_did_in_the_format_chosen(cyrus, tmp_path, capsys):
    from test_transcripts import run_repl_keys
    user = fresh_user(cyrus, 2)
    message = tmp_path / "m.eml"
    message.write_bytes(b"From: up@example.org\r\nSubject: upload\r\n\r\nhello\r\n")
    run_repl_keys(f"\\format json\n\\upload {message} user.{user}\n\x04",
                  targets(cyrus)["unix"], "--allow-writes")
    import json
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()
            if line.startswith("{")]
    uploads = [row for row in rows if row["type"] == "upload"]
    assert len(uploads) == 1 and f"to user.{user} as UID 3" in uploads[0]["text"]


def test_crcs_equal_the_servers_and_differ_when_a_record_is_altered(cyrus):
    """syncsh's CRCs from a real GET FULLMAILBOX equal the server's; one record's flags
    changed in what is fed to the calculation makes them differ."""
    from syncsh.connect import open_session
    from syncsh.model import Mailbox, Message
    from syncsh.protocol.crc import CrcCheck, sync_crc, sync_crc_annot
    from syncsh.targets import parse_target
    user = fresh_user(cyrus, 5)
    session = open_session(parse_target(targets(cyrus)["unix"]))
    try:
        events, done = session.run(f"GET FULLMAILBOX user.{user}")
    finally:
        session.close()
    box = next(e for e in events if isinstance(e, Mailbox))
    messages = [e for e in events if isinstance(e, Message)]
    assert done.ok and len(messages) == 5 and box.sync_crc
    assert sync_crc(messages) == box.sync_crc
    assert sync_crc_annot(messages) == box.sync_crc_annot
    check = CrcCheck(box.sync_crc, box.sync_crc_annot)
    for message in messages:
        check.add(message)
    assert [v[3] for v in check.verdicts()] == [True, True]
    messages[2].flags = messages[2].flags + ("\\Flagged",)
    assert sync_crc(messages) != box.sync_crc
    assert CrcCheck(0, 0).verdicts()[0][3] is None           # 0 means "not known"


def test_a_big_real_mailbox_read_in_runs_equals_it_read_record_by_record(cyrus):
    """Cyrus's own RECORD lists (two annotations a record) go the run path and give the
    same messages and the same wire view as reading one record at a time; the table's CRCs
    computed from the runs agree with the server's.  The reply is taken from the real
    server once, then read both ways in big pieces (how a socket delivers a reply depends
    on the moment: a live read might hold too few records at a time to make a run)."""
    from syncsh.connect import open_session
    from syncsh.targets import parse_target
    from test_runs import read
    user = fresh_user(cyrus, 200)
    session = open_session(parse_target(targets(cyrus)["unix"]))
    received = []
    session.on_wire = lambda direction, raw: direction == "S" and received.append(raw)
    try:
        events, done = session.run(f"GET FULLMAILBOX user.{user}")
    finally:
        session.close()
    assert done.ok and len(events) == 202            # the mailbox, 200 messages, its end
    reply = session.banner.text.encode() + b"\r\n" + b"".join(received)
    fast, fast_wire, in_runs, _ = read(reply, [65536], f"GET FULLMAILBOX user.{user}", True)
    slow, slow_wire, none, _ = read(reply, [65536], f"GET FULLMAILBOX user.{user}", False)
    assert in_runs >= 150 and none == 0
    assert fast == slow == events + [done] and fast_wire == slow_wire
    proc = syncsh(targets(cyrus)["unix"], "--format", "table", "-c", f"GET FULLMAILBOX user.{user}")
    out = proc.stdout.decode()
    assert "200 message(s)" in out and "SYNC_CRC agrees" in out and "SYNC_CRC_ANNOT agrees" in out


def test_repl_completes_subtypes_and_kvlist_keys(cyrus):
    from prompt_toolkit.document import Document
    from syncsh.protocol.commands import CSYNC
    from syncsh.repl.completer import SyncCompleter
    from syncsh.session import Learnt

    class State:
        user = selected = None

    completer = SyncCompleter(CSYNC, Learnt(), State())

    def texts(text):
        return [c.text for c in completer.get_completions(Document(text), None)]

    assert texts("GE") == ["GET"]
    assert texts("GET F") == ["FULLMAILBOX", "FETCH", "FETCH_SIEVE"]
    assert texts("apply un")[:2] == ["unmailbox", "unquota"]
    assert texts("GET FETCH %(MB") == ["MBOXNAME"]
    assert texts("GET FETCH %(") == ["MBOXNAME", "PARTITION", "UNIQUEID", "GUID", "UID"]
    assert texts("APPLY SEEN %(USERID bob UNIQUEID x LASTREAD 1 L") == ["LASTUID", "LASTCHANGE"]
    assert texts("APPLY SEEN %(USERID b") == []                  # a value, not a key


@pytest.fixture
def sshd(tmp_path):
    from sshd import client_setup, require_sshd
    require_sshd()
    server, _, _, config = client_setup(tmp_path, host="cyrushost")
    yield server, config
    server.stop()


def test_ssh_target_running_the_replicas_sync_server(cyrus, sshd):
    server, config = sshd
    user = fresh_user(cyrus, 2)
    remote = (f"runuser -u cyrus -- env CYRUS_SERVICE=csync CYRUS_ID=0 "
              f"/usr/lib/cyrus/bin/sync_server -C {cyrus.replica_conf} -X")
    proc = syncsh("ssh://cyrushost", "--ssh-config", str(config), "--remote-command", remote,
                  "--format", "table", "-c", f"GET USER {user}")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "(csync dialect)" in out and f"user.{user}" in out and "OK success" in out


def test_csync_via_an_ssh_jump_host(cyrus, sshd):
    server, config = sshd
    user = fresh_user(cyrus, 1)
    proc = syncsh(f"csync://admin@127.0.0.1:{cyrus.replica_port}", "--via", "ssh://cyrushost",
                  "--ssh-config", str(config), "-c", f"GET USER {user}", env=password_env())
    assert proc.returncode == 0, proc.stderr
    assert f"MBOXNAME user.{user}" in proc.stdout.decode()


def test_starttls_verified_refused_and_insecure(tmp_path, sshd):
    """A pair with TLS configured offers STARTTLS: syncsh uses it and verifies the
    certificate (trusted here through SSL_CERT_FILE); an unverifiable one is refused unless
    --insecure, which warns.  Through an SSH jump host (--via) TLS runs over the channel."""
    require_cyrus()
    import subprocess as sp
    cert_dir = f"/tmp/syncsh-tls-{os.getpid()}"
    os.makedirs(cert_dir, exist_ok=True)
    sp.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
            f"{cert_dir}/key.pem", "-out", f"{cert_dir}/cert.pem", "-days", "2", "-subj",
            "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
           capture_output=True)
    os.chmod(cert_dir, 0o755)                 # the cyrus user reads them
    for name in ("key.pem", "cert.pem"):
        os.chmod(f"{cert_dir}/{name}", 0o644)
    pair = CyrusPair(f"/tmp/syncsh-tlsp-{os.getpid()}", extra_conf=(
        f"tls_server_cert: {cert_dir}/cert.pem\ntls_server_key: {cert_dir}/key.pem"))
    try:
        target = f"csync://admin@127.0.0.1:{pair.replica_port}"
        proc = syncsh(target, "-c", "NOOP", env=password_env())
        assert proc.returncode == 2 and b"CERTIFICATE_VERIFY_FAILED" in proc.stderr
        proc = syncsh(target, "-c", "NOOP", env=dict(password_env(),
                                                     SSL_CERT_FILE=f"{cert_dir}/cert.pem"))
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.decode().splitlines()
        assert "* STARTTLS" not in lines and lines[-1] == "OK Noop completed"  # greeted again
        proc = syncsh(target, "--insecure", "-c", "NOOP", env=password_env())
        assert proc.returncode == 0 and b"not verified (--insecure)" in proc.stderr

        _, config = sshd
        via = ("--via", "ssh://cyrushost", "--ssh-config", str(config))
        pair.seed("tlsuser", 40)
        pair.sync("tlsuser")
        proc = syncsh(target, *via, "-c", "NOOP", env=password_env())
        assert proc.returncode == 2 and b"CERTIFICATE_VERIFY_FAILED" in proc.stderr
        trusted = dict(password_env(), SSL_CERT_FILE=f"{cert_dir}/cert.pem")
        direct = syncsh(target, "--format", "json", "-c", "GET FULLMAILBOX user.tlsuser",
                        env=trusted)
        tunnelled = syncsh(target, *via, "--format", "json", "-c",
                           "GET FULLMAILBOX user.tlsuser", env=trusted)
        assert tunnelled.returncode == 0, tunnelled.stderr
        assert tunnelled.stdout == direct.stdout and tunnelled.stdout.count(b'"uid"') == 40
    finally:
        pair.destroy()
