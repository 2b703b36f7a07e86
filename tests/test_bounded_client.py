"""A hostile server cannot exhaust the client: floods before the banner, endless lines,
huge atoms and trickling replies end in one line (or success) within the documented
bounds.  Peak memory is the client's own (getrusage in a child process running the
command line); time linearity is a ratio of two sizes' CPU times, never a wall clock."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

SERVER = os.path.join(ROOT, "tests", "hostile_server.py")
MB = 1 << 20

# The child runs the command line in-process and reports its own peak memory and the CPU
# time the command took (the interpreter's start-up left out).  The peak is the kernel's
# high-water mark of the child's own image (VmHWM): getrusage's ru_maxrss also carries the
# parent's size at the fork over the exec, so a big pytest process would count.
CHILD = """
import json, os, resource, sys, time
sys.stdout = open(os.devnull, "w")
from syncsh.cli import main
start = time.process_time()
rc = main(sys.argv[1:])
cpu = time.process_time() - start
with open("/proc/self/status") as status:
    peak = int(next(l for l in status if l.startswith("VmHWM:")).split()[1]) * 1024
peak = min(peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
sys.stderr.write("\\n" + json.dumps({"rc": int(rc), "cpu": cpu, "peak": peak}) + "\\n")
"""


def run_client(mode: str, *args: str, size: int = 0, timeout: float = 120, target=None,
               env=None):
    target = target or f"exec:{sys.executable} {SERVER} {mode} {size}"
    done = subprocess.run([sys.executable, "-c", CHILD, target, "--allow-writes",
                           "--format", "raw", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)
    *said, report = done.stderr.rstrip("\n").split("\n")
    result = json.loads(report)
    result["stderr"] = [line for line in said if line]
    return result


def test_endless_capability_lines_before_the_banner_are_one_line_error():
    result = run_client("capability", "-c", "NOOP")
    assert result["rc"] == 2
    assert result["stderr"] == ["syncsh: over 1000 lines before the server's banner (the limit:"
                                " --max-greeting-lines N raises it)"]
    assert result["peak"] < 100 * MB


def test_an_endless_line_before_the_banner_is_one_line_error():
    result = run_client("greetingline", "-c", "NOOP", size=40 * MB)
    assert result["rc"] == 2
    assert result["stderr"] == [f"syncsh: a greeting line over {8 * MB} bytes (the limit: "
                                "--max-line BYTES raises it)"]
    assert result["peak"] < 100 * MB


def test_the_greeting_limit_can_be_raised():
    result = run_client("capability", "-c", "NOOP", "--max-greeting-lines", "5000")
    assert result["rc"] == 2 and "over 5000 lines" in result["stderr"][0]


@pytest.mark.parametrize("mode", ["longline", "csyncatom"])
def test_a_line_over_the_limit_is_skipped_in_one_line_memory_flat_time_linear(mode):
    small = run_client(mode, "-c", "NOOP", "--max-line", "1M", size=8 * MB)
    big = run_client(mode, "-c", "NOOP", "--max-line", "1M", size=80 * MB)
    for result in (small, big):
        assert result["rc"] == 0, result
        assert result["stderr"] == [f"syncsh: a reply line over {MB} bytes was skipped (the "
                                    "limit: --max-line BYTES raises it)"]
        assert result["peak"] < 100 * MB, result
    assert big["cpu"] <= 13 * max(small["cpu"], 0.05), (small, big)


def test_a_50_mb_line_with_the_default_limit_is_one_line_in_raw_mode():
    result = run_client("longline", "-c", "NOOP", size=50 * MB)
    assert result["rc"] == 0
    assert result["stderr"] == [f"syncsh: a reply line over {8 * MB} bytes was skipped (the "
                                "limit: --max-line BYTES raises it)"]
    assert result["peak"] < 100 * MB


@pytest.mark.parametrize("mode", ["longline", "csyncatom"])
def test_long_lines_within_the_limit_are_read_in_linear_time(mode):
    small = run_client(mode, "-c", "NOOP", size=700_000)
    big = run_client(mode, "-c", "NOOP", size=7_000_000)
    for result in (small, big):
        assert result["rc"] == 0 and result["stderr"] == [], result
        assert result["peak"] < 100 * MB, result
    assert big["cpu"] <= 13 * max(small["cpu"], 0.02), (small, big)


@pytest.mark.parametrize("mode", ["longline", "csyncatom"])
def test_a_line_just_under_the_default_limit_is_shown_within_the_memory_bound(mode):
    result = run_client(mode, "-c", "NOOP", size=8 * MB - 100)
    assert result["rc"] == 0 and result["stderr"] == [], result
    assert result["peak"] < 100 * MB, result


def test_a_csync_line_with_a_long_atom_is_read():
    target = f"exec:{sys.executable} {SERVER} csyncatom 5000"
    done = subprocess.run([sys.executable, "-m", "syncsh", target, "--allow-writes",
                           "--format", "raw", "-c", "NOOP"], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert b"* " + b"a" * 5000 + b"\nOK success\n" in done.stdout


def test_a_trickling_reply_ends_at_the_overall_deadline():
    result = run_client("trickle", "-c", "NOOP", "--timeout", "1", "--deadline", "2",
                        timeout=60)
    assert result["rc"] == 2
    assert len(result["stderr"]) == 1
    assert "did not end within 2s (the overall deadline: --deadline SECONDS raises it)" in \
        result["stderr"][0]
    assert result["peak"] < 100 * MB


@pytest.mark.parametrize("mode", ["csynclist", "csyncnest", "csynckv"])
def test_a_line_of_tiny_values_is_bounded_by_what_it_holds(mode):
    """Parsed values take many times their bytes in memory: each counts against the limit,
    so a line of tiny tokens, deep nesting or many small kvlists stays within the bound."""
    result = run_client(mode, "-c", "NOOP", size=7 * MB)
    assert result["rc"] == 0, result
    assert result["stderr"] == [f"syncsh: a reply line over {8 * MB} bytes was skipped (the "
                                "limit: --max-line BYTES raises it)"]
    assert result["peak"] < 100 * MB, result


def test_a_line_made_endless_by_literals_is_skipped_within_the_bound():
    result = run_client("literals", "-c", "NOOP", size=12 * MB)
    assert result["rc"] == 0, result
    assert result["stderr"] == [f"syncsh: a reply line over {8 * MB} bytes was skipped (the "
                                "limit: --max-line BYTES raises it)"]
    assert result["peak"] < 100 * MB, result


def test_endless_stderr_without_a_line_end_is_relayed_in_pieces():
    result = run_client("stderrflood", "-c", "NOOP", size=60 * MB)
    assert result["rc"] == 0, result["stderr"][-1:]
    assert sum(map(len, result["stderr"])) >= 60 * MB - 100
    assert result["peak"] < 100 * MB, result["peak"]


def test_a_big_streamed_listing_fed_at_once_is_not_taken_for_a_long_line():
    """Records stream apart from the line's limit, however many arrive in one piece."""
    from syncsh.protocol import dlist
    records = b" ".join(b"%%(UID %d MODSEQ 1 LAST_UPDATED 1 FLAGS () INTERNALDATE 1 SIZE 1 "
                        b"GUID %040x)" % (uid, uid) for uid in range(1, 40001))
    line = b"* MAILBOX %(MBOXNAME user.big RECORD (" + records + b"))\r\n"
    reader = dlist.Reader(max_line=1 << 20)
    assert len(line) > 4 << 20
    reader.feed(line)
    events = list(reader.events())
    assert not any(isinstance(e, dlist.Text) for e in events)
    assert sum(len(e.rows) if isinstance(e, dlist.RecordRun) else isinstance(e, dlist.Record)
               for e in events) == 40000


@pytest.mark.parametrize("step", [1, 2, 3, 5, 7])
def test_literal_headers_cut_anywhere_are_read_alike(step):
    """A literal's or a file's header cut between any two bytes (CR and LF included) is
    never read as an atom."""
    from syncsh.protocol import dlist
    data = (b'* MAILBOX %(UNIQUEID u1 RECORD (%(UID 5 MODSEQ 6 LAST_UPDATED 1 FLAGS () '
            b'INTERNALDATE 1 SIZE 2 GUID 0000000000000000000000000000000000000005 ANNOTATIONS '
            b'(%(ENTRY /x USERID "" MODSEQ 0 VALUE {5+}\r\nhello)))))\r\n'
            b'* X %{default 0000000000000000000000000000000000000005 3}\r\nabc\r\nOK success\r\n')

    def events(chunks):
        reader = dlist.Reader()
        out = []
        for chunk in chunks:
            reader.feed(chunk)
            out += [repr(e) for e in reader.events()]
        return out
    whole = events([data])
    assert not any("problem='" in e for e in whole)
    assert events([data[i:i + step] for i in range(0, len(data), step)]) == whole


def deflate_bomb_server(inflated: int):
    """A modern replication port offering COMPRESS DEFLATE whose reply to the client's
    command is one line that inflates to `inflated` bytes from a few hundred KiB."""
    import socket
    import threading
    import zlib
    out = zlib.compressobj(9, zlib.DEFLATED, -15)       # one stream, replies in order

    def packed(*pieces):
        return b"".join(out.compress(p) for p in pieces) + out.flush(zlib.Z_SYNC_FLUSH)
    block = b"a" * (1 << 20)
    replies = [packed(b"OK Noop completed\r\n"),                          # login's NOOP
               packed(b"* ", *[block] * (inflated >> 20), b"\r\nOK done\r\n"),  # the bomb
               packed(b"OK Finished\r\n")]                              # EXIT
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        conn.sendall(b"* SASL PLAIN\r\n* COMPRESS DEFLATE\r\n"
                     b"* OK bomb Cyrus sync server v3.6.1\r\n")
        reader = conn.makefile("rb")
        reader.readline()                                   # AUTHENTICATE PLAIN …
        conn.sendall(b"OK success\r\n")
        reader.readline()                                   # COMPRESS DEFLATE
        conn.sendall(b"OK DEFLATE active\r\n")
        inflater = zlib.decompressobj(-15)
        pending = b""
        try:
            while replies:
                data = reader.read1(1 << 16)
                if not data:
                    break
                pending += inflater.decompress(data)
                while b"\r\n" in pending and replies:
                    _, pending = pending.split(b"\r\n", 1)
                    conn.sendall(replies.pop(0))
        except OSError:
            pass
        conn.close()
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], len(replies[1])


def test_a_compressed_reply_that_inflates_to_gigabytes_stays_within_the_bound():
    port, size = deflate_bomb_server(1 << 30)              # 1 GiB from about 1 MiB
    assert size < 2 * MB
    result = run_client("", "-c", "NOOP", target=f"csync://admin@127.0.0.1:{port}",
                        env=dict(os.environ, SYNCSH_PASSWORD="secret"))
    assert result["rc"] == 0, result
    assert result["stderr"] == [f"syncsh: a reply line over {8 * MB} bytes was skipped (the "
                                "limit: --max-line BYTES raises it)"]
    assert result["peak"] < 100 * MB, result["peak"]


def test_a_server_asking_for_sasl_steps_forever_is_given_up():
    """(PLAIN would send the password again at each step.)"""
    from syncsh.errors import ProtocolError
    from syncsh.session import MAX_SASL_STEPS, Session

    class Endless:
        sent = []

        def __init__(self):
            self.queue = [b"* SASL PLAIN\r\n* OK h Cyrus sync server v3.6.1\r\n"]

        def send(self, data):
            self.sent.append(data)
            self.queue.append(b"+ \r\n")

        def recv(self, timeout):
            return self.queue.pop(0) if self.queue else b"+ \r\n"

        def close(self):
            pass
    session = Session(Endless())
    session.open()
    with pytest.raises(ProtocolError, match="more than 8 SASL steps"):
        session.authenticate("PLAIN", "admin", "secret")
    assert len(Endless.sent) == 1 + MAX_SASL_STEPS
