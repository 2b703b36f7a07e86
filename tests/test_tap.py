"""`syncsh tap` between real programs: Cyrus 3.6's own sync_client and sync_server (the
`cyrus` pair), and the documented dialect's `syncsh replicate` and `syncsh server`."""

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import require_cyrus, syncsh
from servers.cyrus import CYRUS_BIN, CyrusPair
from servers.host import pids_naming

_names = itertools.count(1)
PLAIN_SECRET = "AGFkbWluAHNlY3JldA=="           # base64 of \0admin\0secret


def new_user(pair, count):
    user = f"t{os.getpid() % 1000}x{next(_names)}"
    pair.seed(user, count)
    return user


class Tap:
    """`syncsh tap --listen 127.0.0.1:0 --to …` as a process; its port read from stderr."""

    def __init__(self, pair, tmp_path, *args):
        self.log = tmp_path / f"live-{next(_names)}.txt"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "syncsh", "tap", "--listen", "127.0.0.1:0", "--to",
             f"csync://127.0.0.1:{pair.replica_port}", "--log", str(self.log), "--no-color",
             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        assert match, line + self.proc.stderr.read()
        self.port = int(match.group(1))
        conf = re.sub(r"(?m)^sync_port: \d+$", f"sync_port: {self.port}",
                      open(pair.master_conf).read())
        self.conf = tmp_path / f"master-via-tap-{self.port}.conf"
        self.conf.write_text(conf)

    def sync_client(self, *args):
        return subprocess.Popen(["timeout", "-k", "5", "120", f"{CYRUS_BIN}/sync_client", "-C",
                                 str(self.conf), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def live(self):
        return self.log.read_text() if self.log.exists() else ""

    def finish(self, timeout=30):
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.finish()


def diff_identical(pair, user, trust=None):
    env = dict(os.environ, SYNCSH_PASSWORD="secret", **({"SSL_CERT_FILE": trust} if trust else {}))
    proc = syncsh("diff", f"csync://admin@127.0.0.1:{pair.master_port}",
                  f"csync://admin@127.0.0.1:{pair.replica_port}", "--user", user, env=env)
    return proc.returncode == 0 and "identical" in proc.stdout.decode(), proc


def lint(path):
    return syncsh("replay", "--lint", str(path))


def sync_through_tap(pair, tmp_path, count=50, *tap_args):
    user = new_user(pair, count)
    record = tmp_path / f"{user}.txt"
    tap = Tap(pair, tmp_path, "--record", str(record), "--connections", "1", *tap_args)
    client = tap.sync_client("-v", "-u", user)
    out, err = client.communicate(timeout=150)
    assert client.returncode == 0, out + err
    status, _, tap_err = tap.finish()
    assert status == 0, tap_err
    return user, tap, record


def check_sync(pair, user, tap, record, count, trust=None):
    identical, proc = diff_identical(pair, user, trust)
    assert identical, proc.stdout.decode() + proc.stderr.decode()
    live = tap.live()
    assert f"C: GET USER {user}" in live
    assert re.search(rf"C: APPLY MESSAGE \({count} messages, [\d.]+ KiB\)", live)
    assert re.search(rf"C: APPLY MAILBOX user\.{user}  {count} records", live)
    assert "C: AUTHENTICATE PLAIN   (exchange not shown)" in live
    assert "ended after EXIT, a normal end" in live
    text = record.read_text()
    assert f"C: GET USER {user}" in text and "C: APPLY MAILBOX %(" in text
    assert text.count("C: APPLY MESSAGE (%{default ") == 1
    assert text.count(f"Subject: test message") == count          # the bodies are kept
    for secret in ("secret", PLAIN_SECRET):
        assert secret not in text and secret not in live
    assert "# AUTHENTICATE PLAIN: OK Success" in text
    proc = lint(record)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()


def test_sync_client_replicates_through_the_tap(cyrus, tmp_path):
    user, tap, record = sync_through_tap(cyrus, tmp_path, 50)
    check_sync(cyrus, user, tap, record, 50)
    assert "# COMPRESS DEFLATE active: both directions are inflated" in tap.live()
    # replayed by hand: the user gone from the replica, the record puts it back
    proc = syncsh(f"unix:{cyrus.replica_socket}", "--allow-writes", "-c", f"APPLY UNUSER {user}")
    assert proc.returncode == 0, proc.stderr
    assert not diff_identical(cyrus, user)[0]
    proc = syncsh("replay", "--allow-writes", "--host",
                  f"replica=csync://admin@127.0.0.1:{cyrus.replica_port}", str(record),
                  env=dict(os.environ, SYNCSH_PASSWORD="secret"))
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert diff_identical(cyrus, user)[0]


@pytest.fixture(scope="module")
def compressing_pair():
    require_cyrus()
    pair = CyrusPair(f"/tmp/syncsh-tapz-{os.getpid()}", extra_conf="sync_compress: 1")
    yield pair
    pair.destroy()


def test_with_sync_compress_the_deflated_stream_is_decoded(compressing_pair, tmp_path):
    user, tap, record = sync_through_tap(compressing_pair, tmp_path, 50)
    check_sync(compressing_pair, user, tap, record, 50)
    live = tap.live()
    assert "C: COMPRESS DEFLATE" in live and "S: OK DEFLATE active" in live
    assert "# COMPRESS DEFLATE: OK DEFLATE active" in record.read_text()


def test_json_lines_instead_of_a_transcript(cyrus, tmp_path):
    user = new_user(cyrus, 3)
    record = tmp_path / "events.jsonl"
    tap = Tap(cyrus, tmp_path, "--record", str(record), "--format", "json", "--connections", "1")
    client = tap.sync_client("-u", user)
    client.communicate(timeout=150)
    assert client.returncode == 0 and tap.finish()[0] == 0
    events = [json.loads(line) for line in record.read_text().splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "open" and kinds[1] == "greeting" and kinds[-1] == "closed"
    commands = [e for e in events if e["type"] == "command"]
    assert commands[0] == {**commands[0], "verb": "AUTHENTICATE", "summary": "AUTHENTICATE PLAIN"}
    assert "value" not in commands[0]
    message = [c for c in commands if c["summary"].startswith("APPLY MESSAGE")][0]
    bodies = message["value"][2]
    assert len(bodies) == 3 and all(len(b["guid"]) == 40 and b["size"] > 0 for b in bodies)
    dones = [e for e in events if e["type"] == "done"]
    assert all(d["status"] == "OK" for d in dones) and dones[-1]["command"] == "EXIT"
    assert "secret" not in record.read_text() and PLAIN_SECRET not in record.read_text()


def test_connections_at_once_are_relayed_and_recorded_separately(cyrus, tmp_path):
    users = [new_user(cyrus, 20) for _ in range(3)]
    pattern = tmp_path / "conn-{n}.txt"
    tap = Tap(cyrus, tmp_path, "--record", str(pattern), "--connections", "3")
    clients = [tap.sync_client("-u", user) for user in users]
    for client in clients:
        out, err = client.communicate(timeout=150)
        assert client.returncode == 0, out + err
    assert tap.finish()[0] == 0
    files = sorted(tmp_path.glob("conn-*.txt"))
    assert len(files) == 3
    seen = set()
    for path in files:
        text = path.read_text()
        inside = [user for user in users if f"C: GET USER {user}" in text]
        assert len(inside) == 1, text[:2000]       # one connection's conversation each
        seen.update(inside)
        assert lint(path).returncode == 0
    assert seen == set(users)
    for user in users:
        assert diff_identical(cyrus, user)[0]


def sync_servers(pair):
    return [pid for pid in pids_naming(pair.replica_conf)
            if b"sync_server" in open(f"/proc/{pid}/cmdline", "rb").read()]


def test_a_replica_stopped_mid_sync(cyrus, tmp_path):
    user = new_user(cyrus, 300)
    record = tmp_path / "dropped.txt"
    tap = Tap(cyrus, tmp_path, "--record", str(record), "--connections", "1")
    client = tap.sync_client("-v", "-u", user)
    deadline = time.monotonic() + 60
    while f"C: GET USER {user}" not in tap.live():
        assert time.monotonic() < deadline and client.poll() is None, tap.live()
        time.sleep(0.002)
    servers = sync_servers(cyrus)
    assert servers
    for pid in servers:                   # frozen: whatever comes next waits for it
        os.kill(pid, signal.SIGSTOP)
    time.sleep(0.3)
    for pid in servers:                   # then gone, as a stopped replica is
        os.kill(pid, signal.SIGKILL)
    out, err = client.communicate(timeout=150)
    assert client.returncode != 0                         # sync_client fails, as it does alone
    assert "bailing out" in out + err
    assert tap.finish()[0] == 0
    live = tap.live()
    assert re.search(r"closed by the server.*was left without its reply", live)
    text = record.read_text()
    assert re.search(r"# session 1 closed by the server.*, while "
                     r"(GET USER|APPLY MESSAGE|APPLY MAILBOX) waited for its reply", text)
    assert lint(record).returncode == 0


def test_exec_records_the_documents_first_scenario_and_it_replays(tmp_path):
    from syncsh import demo
    demo.init(str(tmp_path / "pair"))
    replica, master = tmp_path / "pair" / "cyrus-2", tmp_path / "pair" / "cyrus-1"
    record = tmp_path / "first.txt"
    server = f"{sys.executable} -m syncsh server --store {replica}"
    tap = (f"exec:{sys.executable} -m syncsh tap --exec '{server}' --record {record} --append "
           "--host cyrus-2=demo:cyrus-2 --log " + str(tmp_path / "live.txt"))
    damage = ["user_some dpc22 user.dpc22", "select user.dpc22", "expunge 1",
              "setflags 4140 (hello world)", "status", "enduser"]
    proc = syncsh(tap, "--allow-writes", *[arg for c in damage for arg in ("-c", c)])
    assert proc.returncode == 0, proc.stderr
    proc = syncsh("replicate", "--master", str(master), "-s", tap, "-v", "-v", "-m", "user.dpc22")
    assert proc.returncode == 0, proc.stderr
    proc = syncsh(tap, "-c", "user_some dpc22 user.dpc22", "-c", "enduser")
    assert "* 4140 0101003f4c56b08c9d000026 ()" in proc.stdout.decode()
    text = record.read_text()
    assert text.count("C: $ ssh cyrus-2 sync_server") == 3
    assert [f"# session {n}:" in text for n in (1, 2, 3)] == [True] * 3
    assert "C: UPLOAD " in text and "C: SETFLAGS 4140 ()" in text
    live = (tmp_path / "live.txt").read_text()
    assert "C: setflags 4140 (hello world)" in live and "S: OK Expunge Complete" in live
    assert lint(record).returncode == 0
    proc = syncsh("replay", str(record))                   # a fresh private demo pair
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert "1 passed, 0 failed" in proc.stdout.decode()


def test_ctrl_c_closes_the_listener_and_writes_what_was_recorded(cyrus, tmp_path):
    import socket
    record = tmp_path / "open.txt"
    tap = Tap(cyrus, tmp_path, "--record", str(record))
    with socket.create_connection(("127.0.0.1", tap.port), timeout=30) as sock:
        reader = sock.makefile("rb")
        while not reader.readline().startswith(b"* OK"):
            pass
        sock.sendall(b"NOOP\r\n")
        assert reader.readline() == b"OK Noop completed\r\n"
        tap.proc.send_signal(signal.SIGINT)
        status, _, err = tap.finish()
        assert reader.read() == b""                       # the tap ended the connection
    assert status == 130, err
    text = record.read_text()
    assert "C: NOOP\nS: OK Noop completed\n" in text
    assert "# session 1 closed by the tap: the tap was stopped (Ctrl-C)" in text
    assert lint(record).returncode == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", tap.port), timeout=5).close()


@pytest.fixture(scope="module")
def tls_pair():
    require_cyrus()
    certs = f"/tmp/syncsh-taptls-{os.getpid()}-certs"     # readable by the cyrus user
    os.makedirs(certs, mode=0o755, exist_ok=True)
    cert, key = f"{certs}/cert.pem", f"{certs}/key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    os.chmod(key, 0o644)
    pair = CyrusPair(f"/tmp/syncsh-taptls-{os.getpid()}",
                     extra_conf=f"tls_server_cert: {cert}\ntls_server_key: {key}")
    yield pair, cert, key
    pair.destroy()
    import shutil
    shutil.rmtree(certs, ignore_errors=True)


def test_no_starttls_lets_a_tls_replica_be_decoded(tls_pair, tmp_path):
    pair, cert, _ = tls_pair
    user, tap, record = sync_through_tap(pair, tmp_path, 5, "--no-starttls")
    check_sync(pair, user, tap, record, 5, trust=cert)
    assert "S: * STARTTLS   (removed: --no-starttls)" in tap.live()
    text = record.read_text()
    assert "S: * STARTTLS" not in text and "# the tap removed `* STARTTLS`" in text


def tls_tap(pair, tmp_path, cert, key, env):
    tap = subprocess.Popen([sys.executable, "-m", "syncsh", "tap", "--listen", "127.0.0.1:0",
                            "--to", f"csync://127.0.0.1:{pair.replica_port}", "--tls-cert", cert,
                            "--tls-key", key, "--connections", "1", "--no-color",
                            "--record", str(tmp_path / "tls.txt")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    port = int(re.search(r":(\d+),", tap.stderr.readline()).group(1))
    return tap, port


def test_tls_terminated_by_the_tap_is_decoded_and_the_server_verified(tls_pair, tmp_path):
    pair, cert, key = tls_pair
    user = f"t{os.getpid() % 1000}x{next(_names)}"
    pair.seed(user, 2, "replica")
    trusting = dict(os.environ, SSL_CERT_FILE=cert, SYNCSH_PASSWORD="secret")
    tap, port = tls_tap(pair, tmp_path, cert, key, trusting)
    proc = syncsh(f"csync://admin@127.0.0.1:{port}", "-c", f"GET USER {user}", env=trusting)
    assert proc.returncode == 0, proc.stderr
    assert f"MBOXNAME user.{user}" in proc.stdout.decode()
    live, err = tap.communicate(timeout=30)
    assert tap.returncode == 0, err
    assert "S: OK Begin TLS negotiation now" in live
    assert "TLS terminated by the tap on both sides" in live
    assert "OK Success (tls protection)" in live                 # the server saw TLS too
    assert f"C: GET USER {user}" in live and f"* MAILBOX user.{user}" in live
    assert "secret" not in live and lint(tmp_path / "tls.txt").returncode == 0
    text = (tmp_path / "tls.txt").read_text()
    assert text.count("C: $ ssh replica sync_server") == 1
    assert "# the server greeted again: * OK replica" in text and f"C: GET USER {user}" in text
    # a server certificate the tap cannot verify: the connection ends, nothing is relayed
    untrusting = dict(trusting)
    del untrusting["SSL_CERT_FILE"]
    tap, port = tls_tap(pair, tmp_path, cert, key, untrusting)
    proc = syncsh(f"csync://admin@127.0.0.1:{port}", "-c", f"GET USER {user}", env=trusting)
    assert proc.returncode == 2
    live, _ = tap.communicate(timeout=30)
    assert re.search(r"closed by the tap: TLS failed: .*certificate verify failed", live)


def test_a_unix_socket_target_and_a_failing_command(cyrus, tmp_path):
    user = new_user(cyrus, 2)
    cyrus.sync(user)
    record = tmp_path / "unix.txt"
    tap = subprocess.Popen([sys.executable, "-m", "syncsh", "tap", "--listen", "127.0.0.1:0",
                            "--to", f"unix:{cyrus.replica_socket}", "--connections", "1",
                            "--no-color", "--record", str(record)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    port = int(re.search(r":(\d+),", tap.stderr.readline()).group(1))
    proc = syncsh(f"csync://admin@127.0.0.1:{port}", "-c", f"GET USER {user}",
                  "-c", "GET FETCH %(MBOXNAME user.nobody.here)", env=dict(os.environ))
    assert proc.returncode == 1                            # the second command fails
    live, err = tap.communicate(timeout=30)
    assert tap.returncode == 0, err
    assert f"* MAILBOX user.{user}" in live and "AUTHENTICATE" not in live  # pre-authenticated
    assert "first failure: GET FETCH: NO IMAP_PROTOCOL_BAD_PARAMETERS" in live
    text = record.read_text()
    assert f"%host replica = unix:{cyrus.replica_socket}" in text
    assert lint(record).returncode == 0
    # read-only, it replays green as it is, once the user names where it goes
    proc = syncsh("replay", "--host", f"replica=unix:{cyrus.replica_socket}", str(record))
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()


def test_a_client_that_drops_ends_the_servers_connection(cyrus, tmp_path):
    import socket
    record = tmp_path / "client-gone.txt"
    tap = Tap(cyrus, tmp_path, "--record", str(record), "--connections", "1")
    sock = socket.create_connection(("127.0.0.1", tap.port), timeout=30)
    reader = sock.makefile("rb")
    while not reader.readline().startswith(b"* OK"):
        pass
    sock.sendall(b"NOOP\r\nNOOP\r\n")          # the second one's reply is never read
    assert reader.readline() == b"OK Noop completed\r\n"
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")   # RST
    reader.close()
    sock.close()
    status, _, err = tap.finish()             # the tap ends once both sides are gone
    assert status == 0, err
    text = record.read_text()
    assert text.count("C: NOOP") == 2
    assert re.search(r"# session 1 closed by the client", text)
    assert lint(record).returncode == 0
