"""Reliability and security: fuzzed parsers, hostile input, injected faults, concurrent load,
crash safety, secrets.  Small counts here; `./dev stress` (SYNCSH_STRESS=1) runs the large
counts of the tests marked stress."""

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import server_argv, syncsh

STRESS = os.environ.get("SYNCSH_STRESS") == "1"
FUZZ = settings(max_examples=100_000 if STRESS else 300, deadline=None,
                suppress_health_check=list(HealthCheck))

wire_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from([b"* ", b"** ", b"OK ", b"NO ", b"BAD ", b"+ ", b"(", b")", b"%(",
                              b"%{default ab 3}\r\n", b"{3}\r\n", b"{5+}\r\n", b'"', b"\\", b" ",
                              b"\r\n", b"\n", b"NIL", b"MAILBOX", b"RECORD", b"123", b"abc"]),
             max_size=60).map(b"".join))


# ---------------------------------------------------------------------- fuzzed parsers

@pytest.mark.stress
@FUZZ
@given(wire_bytes, st.sampled_from(["USER_SOME u m", "STATUS", "RESERVE m g", "LIST_SIEVE",
                                    "CONTENTS", "GET_SIEVE x", "SELECT m", "FROB"]))
def test_legacy_client_codec_never_raises(data, command):
    from syncsh.protocol.events import NEED_DATA
    from syncsh.protocol.legacy import ClientConnection
    conn = ClientConnection()
    conn.receive_data(b"* Sync Server v0.0 [EXPERIMENTAL]\r\n")
    conn.next_event()
    conn.send(command)
    conn.receive_data(data)
    conn.receive_data(b"\r\nOK done\r\n")
    for _ in iter(conn.next_event, NEED_DATA):
        pass


@pytest.mark.stress
@FUZZ
@given(wire_bytes)
def test_dlist_reader_never_raises(data):
    from syncsh.protocol.csync import CsyncConnection
    from syncsh.protocol.events import NEED_DATA
    conn = CsyncConnection()
    conn.send("GET USER x")
    conn.receive_data(data)
    conn.receive_data(b"\r\nOK success\r\n")
    conn.reader.feed(b"")
    for _ in iter(conn.next_event, NEED_DATA):
        pass


@pytest.mark.stress
@FUZZ
@given(wire_bytes)
def test_server_session_answers_everything(tmp_path_factory, data):
    from syncsh.server.session import OUT, ServerSession
    from syncsh.server.store import Store
    store = _fuzz_store(tmp_path_factory)
    session = ServerSession(store, max_line=4096, max_literal=4096, lock_timeout=0.01)
    out = b"".join(p for c, p in session.receive(data + b"\r\n") if c == OUT)
    for line in out.split(b"\r\n"):
        assert line == b"" or line[:1] in (b"*", b"+") or line.split(b" ")[0] in (b"OK", b"NO",
                                                                                 b"BAD") \
            or not line.isascii() or b"{" in out, line
    session.end()


_STORE = {}


def _fuzz_store(factory):
    if "store" not in _STORE:
        from syncsh import demo
        from syncsh.server.store import Store
        directory = factory.mktemp("fuzz")
        demo.init(str(directory))
        _STORE["store"] = Store(str(directory / "cyrus-2"))
    return _STORE["store"]


@pytest.mark.stress
@FUZZ
@given(st.text(max_size=400))
def test_transcript_parser_parses_or_says_why(text):
    from syncsh.transcript.parse import TranscriptError, parse
    try:
        parse("fuzz.txt", text)
    except TranscriptError:
        pass


@pytest.mark.stress
@FUZZ
@given(st.one_of(st.text(max_size=80),
                 st.tuples(st.sampled_from(["demo:", "exec:", "ssh://", "csync://", "unix:",
                                            "cyrus:", ""]), st.text(max_size=40)).map("".join)))
def test_target_strings_parse_or_say_why(text):
    from syncsh.errors import UsageError
    from syncsh.targets import parse_target
    os.environ.setdefault("SYNCSH_CONFIG", "/nonexistent/syncsh.toml")
    try:
        parse_target(text, demo_dir="/tmp/syncsh-fuzz-demo")
    except UsageError:
        pass


toml_values = st.recursive(st.one_of(st.text(max_size=10), st.booleans(), st.integers()),
                           lambda c: st.one_of(st.lists(c, max_size=3),
                                               st.dictionaries(st.text(max_size=8), c, max_size=3)),
                           max_leaves=10)


@pytest.mark.stress
@FUZZ
@given(st.dictionaries(st.sampled_from(["targets", "pairs", "other"]),
                       st.dictionaries(st.text(max_size=8), toml_values, max_size=3), max_size=3))
def test_config_files_load_or_say_why(data):
    from syncsh import config
    from syncsh.errors import UsageError
    try:
        config.parse(data)
    except UsageError:
        pass


@FUZZ
@given(st.text(max_size=300))
def test_config_text_that_is_not_toml_is_one_usage_error(tmp_path_factory, text):
    from syncsh import config
    from syncsh.errors import UsageError
    path = tmp_path_factory.mktemp("cfg") / "c.toml"
    path.write_text(text)
    try:
        config.load(str(path))
    except UsageError:
        pass


# ---------------------------------------------------------------------- hostile input

def talk(store, data: bytes, *extra, timeout=30):
    return subprocess.run(server_argv(store, *extra), input=data, capture_output=True,
                          timeout=timeout)


def test_server_under_hostile_input(pair):
    from syncsh.server.store import Store
    _, replica = pair
    rng = random.Random(7)
    junk = bytes(rng.randrange(256) for _ in range(20000))
    cases = [
        junk,
        b"UPLOAD 1 2 SIMPLE NIL 1 1 1 1 () {9999999999+}\r\nxx\r\n",
        b"SETFLAGS " + b"(" * 10000 + b"\r\n",
        b"USER_SOME dpc22 (user.dpc22\r\n",
        b"EXPUNGE 1\r\nUPLOAD 1 1 COPY 0101003f4c56b00545000000 1 1 1 1 ()\r\nENDUSER\r\nENDUSER\r\n",
        b"USER " + b"x" * 100000 + b"\r\n",
        b"UPLOAD_SIEVE x 1 {10}\r\n",
    ]
    for data in cases:
        proc = talk(replica, data + b"\r\nQUOTA user.dpc22\r\n")
        lines = proc.stdout.split(b"\r\n")
        assert proc.returncode == 0 and b"Traceback" not in proc.stderr
        if b"{9999999999+}" in data:
            # refused at once; the announced bytes (here: all the rest) are skipped, unread
            assert b"BAD Literal too large" in lines
        elif not data.startswith(b"UPLOAD_SIEVE"):       # that one waits for its 10 bytes
            assert b"OK 100000" in lines, (data[:40], lines[-3:])
    store = Store(replica)
    assert store.integrity_problems() == []
    assert len(list(store.message_lines(store.mailbox("user.dpc22").id))) == 10


def test_huge_line_and_literal_are_refused_without_allocation(tmp_path):
    from syncsh.server.session import OUT, ServerSession
    from syncsh.server.store import Store
    session = ServerSession(Store(str(tmp_path / "s")), max_line=1000, max_literal=1000)
    out = b"".join(p for c, p in session.receive(b"UPLOAD 1 1 SIMPLE NIL 1 1 1 1 () {5000+}\r\n"
                                                 + b"x" * 5000 + b"\r\nQUOTA a\r\n") if c == OUT)
    assert out == b"BAD Literal too large\r\nOK 0\r\n"
    out = b"".join(p for c, p in session.receive(b"y" * 5000 + b"\r\nQUOTA a\r\n") if c == OUT)
    assert out == b"BAD Line too long\r\nOK 0\r\n"
    assert session.framer.pending < 2000


def test_idle_clients_time_out(pair):
    proc = subprocess.Popen(server_argv(pair[1], "--idle-timeout", "0.5"), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    try:
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()


# ---------------------------------------------------------------------- client faults

FAULTS = {
    "dies before its banner": "import sys; sys.exit(0)",
    "dies mid-reply": "import sys\nprint('* Sync Server v0.0 [EXPERIMENTAL]\\r', flush=True)\n"
                      "sys.stdin.readline()\nsys.stdout.write('** 6b98205c796c6c61 user.x \"a\\t')\n",
    "dies mid-literal": "import sys\nprint('* Sync Server v0.0 [EXPERIMENTAL]\\r', flush=True)\n"
                        "sys.stdin.readline()\nsys.stdout.write('OK {100+}\\r\\nabc')\n",
    "sends garbage then goes silent": "import sys, time\nprint('\\x00\\xff garbage\\r', flush=True)\n"
                                      "time.sleep(60)\n",
    "goes silent after the banner": "import sys, time\n"
                                    "print('* Sync Server v0.0 [EXPERIMENTAL]\\r', flush=True)\n"
                                    "time.sleep(60)\n",
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_client_faults_end_in_one_line_and_exit_2(tmp_path, fault):
    script = tmp_path / "fake.py"
    script.write_text(FAULTS[fault])
    pidfile = tmp_path / "pid"
    target = f"exec:sh -c 'echo $$ > {pidfile}; exec {sys.executable} {script}'"
    proc = syncsh(target, "--timeout", "1", "-c", "get_sieve x", timeout=30)
    err = proc.stderr.decode().strip()
    assert proc.returncode == 2, (fault, err)
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}") and \
            open(f"/proc/{pid}/stat").read().split()[2] != "Z":
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}") or \
        open(f"/proc/{pid}/stat").read().split()[2] == "Z", f"{fault}: server left running"


def test_replay_and_replicate_end_in_exit_2_on_a_dead_target(tmp_path, pair):
    transcript = tmp_path / "t.txt"
    transcript.write_text("%host dead = exec:/bin/true\nC: $ ssh dead x\nS: ...\nC: quota x\n")
    proc = syncsh("replay", str(transcript))
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr + proc.stdout
    proc = syncsh("replicate", "--master", pair[0], "-s", "exec:/bin/true", "-u", "dpc22")
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1


# ---------------------------------------------------------------------- concurrent load

def _client(store: str, index: int, commands: int, results: dict) -> None:
    """Mixed commands on the client's own user and on a shared one; what was answered OK
    goes into the serial model."""
    rng = random.Random(index)
    proc = subprocess.Popen(server_argv(store, "--lock-timeout", "30"), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, bufsize=0)
    reader = proc.stdout
    reader.readline()
    own = f"load{index}"
    expected = {"subs": set(), "shared_subs": set(), "flags": {}, "quota": None}

    def send(line: str) -> bytes:
        proc.stdin.write(line.encode() + b"\r\n")
        while True:
            reply = reader.readline()
            if reply.split(b" ", 1)[0] in (b"OK", b"NO", b"BAD"):
                return reply

    assert send(f"USER {own}").startswith(b"OK")
    assert send(f"CREATE user.{own} NIL NIL 0 {1000 + index}").startswith(b"OK")
    assert send(f"SELECT user.{own}").startswith(b"OK")
    upload = (f"UPLOAD 3 1 SIMPLE NIL 1 1 1 1 () {{4+}}\r\nabcd SIMPLE NIL 2 1 1 1 () "
              f"{{4+}}\r\nefgh SIMPLE NIL 3 1 1 1 () {{4+}}\r\nijkl")
    assert send(upload).startswith(b"OK")
    for n in range(commands):
        choice = rng.random()
        if choice < 0.3:
            uid = rng.randint(1, 3)
            flag = rng.choice(["a", "b", "\\flagged", ""])
            if send(f"SETFLAGS {uid} ({flag})").startswith(b"OK"):
                expected["flags"][uid] = flag
        elif choice < 0.5:
            name = f"user.{own}.s{n}"
            if send(f"ADDSUB {name}").startswith(b"OK"):
                expected["subs"].add(name)
        elif choice < 0.6:
            limit = rng.randint(1, 10**6)
            if send(f"SETQUOTA user.{own} {limit}").startswith(b"OK"):
                expected["quota"] = limit
        elif choice < 0.75:
            # the shared user: the lock makes these take turns across the 8 clients
            if send("USER shared").startswith(b"OK"):
                name = f"user.shared.c{index}n{n}"
                if send(f"ADDSUB {name}").startswith(b"OK"):
                    expected["shared_subs"].add(name)
                send("ENDUSER")
            send(f"USER {own}")
            send(f"SELECT user.{own}")
        elif choice < 0.9:
            send(f"STATUS")
        else:
            send("USER_ALL " + own)
            send(f"SELECT user.{own}")
    send("EXIT")
    proc.wait(timeout=30)
    results[index] = expected


@pytest.mark.stress
def test_concurrent_clients_leave_the_store_equal_to_a_serial_model(tmp_path):
    from syncsh.server.store import Store
    store_dir = str(tmp_path / "store")
    Store(store_dir).close()
    commands = 1000 if STRESS else 60
    results: dict = {}
    threads = [threading.Thread(target=_client, args=(store_dir, i, commands, results))
               for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert len(results) == 8
    store = Store(store_dir)
    assert store.integrity_problems() == []
    shared = set(store.subscriptions("shared"))
    assert shared == set().union(*(r["shared_subs"] for r in results.values()))
    for index, expected in results.items():
        own = f"load{index}"
        assert set(store.subscriptions(own)) == expected["subs"]
        assert store.quota(f"user.{own}") == expected["quota"]
        flags = {uid: f for uid, _, f in store.message_lines(store.mailbox(f"user.{own}").id)}
        for uid, flag in expected["flags"].items():
            assert flags[uid] == flag


# ---------------------------------------------------------------------- crash safety

@pytest.mark.stress
def test_server_killed_during_replicate_keeps_the_store_consistent(tmp_path):
    from syncsh import demo
    from syncsh.server.store import NewMessage, Store
    master, replica = demo.init(str(tmp_path / "pair"))
    store = Store(master)                 # give the master plenty to send
    with store.write():
        box = store.mailbox("user.dpc22")
        store.add_messages(box, [NewMessage(5000 + i, "0201%020x" % i, ("\\flagged",), 1, 1, 1,
                                            b"Subject: %d\r\n\r\n" % i + b"z" * 3000, 20, 1)
                                 for i in range(400)])
        store.set_uidlast(box, 5400, 1)
    store.close()
    pidfile = tmp_path / "pid"
    target = (f"exec:sh -c 'echo $$ > {pidfile}; exec {sys.executable} -m syncsh server "
              f"--store {replica}'")
    rng = random.Random(11)
    rounds = 100 if STRESS else 5
    for _ in range(rounds):
        pidfile.unlink(missing_ok=True)
        proc = subprocess.Popen([sys.executable, "-m", "syncsh", "replicate", "--master", master,
                                 "-s", target, "-u", "dpc22"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.05, 0.6))
        try:
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
        _, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, 2) and b"Traceback" not in err
        check = Store(replica)
        assert check.integrity_problems() == []
        check.close()
    proc = syncsh("replicate", "--master", master, "-s", target, "-u", "dpc22")
    assert proc.returncode == 0, proc.stderr
    a = syncsh(f"exec:{sys.executable} -m syncsh server --store {master}", "-c", "user_all dpc22")
    b = syncsh(f"exec:{sys.executable} -m syncsh server --store {replica}", "-c", "user_all dpc22")
    assert a.stdout == b.stdout


# ---------------------------------------------------------------------- secrets

def test_no_password_in_the_process_list_history_trace_record_or_audit(cyrus, tmp_path, capsys):
    """A csync session with the trace on, recording, and a write: the password and its SASL
    encoding appear nowhere."""
    import base64
    from test_transcripts import run_repl_keys
    from test_csync import fresh_user
    user = fresh_user(cyrus, 1, prefix="sec")
    password = "secret"
    sasl = base64.b64encode(b"\0admin\0" + password.encode()).decode()
    record = tmp_path / "rec.txt"
    os.environ["SYNCSH_PASSWORD"] = password
    try:
        target = f"csync://admin@127.0.0.1:{cyrus.replica_port}"
        ps_during = {}

        def snapshot():
            ps_during["out"] = subprocess.run(["ps", "auxww"], capture_output=True, text=True).stdout
        timer = threading.Timer(0.5, snapshot)
        timer.start()
        run_repl_keys(f"\\trace on\n\\record {record}\nGET USER {user}\n"
                      f"APPLY SUB %(USERID {user} MBOXNAME user.{user})\ny\n\x04",
                      target, "--sasl-mech", "PLAIN")
        timer.join()
    finally:
        del os.environ["SYNCSH_PASSWORD"]
    captured = capsys.readouterr()
    data = os.environ["SYNCSH_DATA_DIR"]
    places = {
        "stdout": captured.out, "stderr": captured.err, "record": record.read_text(),
        "history": open(os.path.join(data, "history")).read(),
        "audit": open(os.path.join(data, "audit.log")).read(),
        "process list": ps_during.get("out", ""),
    }
    assert "APPLY SUB" in places["audit"] and "GET USER" in places["record"]
    assert "C: GET USER" in places["stderr"]                 # the trace was on
    for where, text in places.items():
        assert sasl not in text, where
        assert f"admin\0{password}" not in text, where
        assert "AUTHENTICATE" not in text or where == "stdout", where


def test_a_wrong_password_is_not_echoed(cyrus):
    proc = syncsh(f"csync://admin@127.0.0.1:{cyrus.replica_port}", "-c", "NOOP",
                  env=dict(os.environ, SYNCSH_PASSWORD="hunter2-wrong"))
    assert proc.returncode == 2 and b"hunter2" not in proc.stderr + proc.stdout
