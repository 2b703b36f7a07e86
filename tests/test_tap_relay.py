"""The tap's sans-IO core: framing, decoding, what is hidden, what is recorded (no I/O)."""

import base64
import random
import zlib

from syncsh.model import Mailbox
from syncsh.tap import events as ev
from syncsh.tap.frames import CommandFramer
from syncsh.tap.record import TranscriptSession, command_lines
from syncsh.tap.relay import Relay
from syncsh.transcript.lint import lint
from syncsh.transcript.parse import parse

BODY1 = b"Subject: one\r\n\r\nfirst body\r\n"
BODY2 = b"Subject: two\r\n\r\nsecond (body\r\n"          # an open parenthesis inside
COMMANDS = [
    b"GET USER alice\r\n",
    b"APPLY MESSAGE (%{default " + b"a" * 40 + b" %d}\r\n" % len(BODY1) + BODY1 +
    b" %{default " + b"b" * 40 + b" %d}\r\n" % len(BODY2) + BODY2 + b")\r\n",
    b"APPLY SIEVE %(USERID alice FILENAME x.script CONTENT {7+}\r\nkeep;\r\n)\r\n",
    b"upload 1 2 PARSED 000 1 2 3 4 () 5 6 0 {3+}\r\nabc\r\n",
    b"EXIT\r\n",
]
SERVER_BANNER = (b"* SASL PLAIN LOGIN\r\n* STARTTLS\r\n* COMPRESS DEFLATE\r\n"
                 b"* OK replica Cyrus sync server 3.6.1\r\n")
MAILBOX = (b"* MAILBOX %(UNIQUEID u1 MBOXNAME user.alice SYNC_CRC 1 SYNC_CRC_ANNOT 2 LAST_UID 2 "
           b"HIGHESTMODSEQ 5 RECENTUID 0 RECENTTIME 0 LAST_APPENDDATE 0 POP3_LAST_LOGIN 0 "
           b"POP3_SHOW_AFTER 0 UIDVALIDITY 7 PARTITION default ACL \"alice\tlrs\t\" OPTIONS P "
           b"CREATEDMODSEQ 1 FOLDERMODSEQ 1)\r\n")


def defects(transcript):
    """Lint's findings but its notes (a %host naming the tapped server is one)."""
    from syncsh.transcript.lint import is_defect
    return [(n, t) for n, t in lint(transcript) if is_defect(t)]


def chunks(data: bytes, rng: random.Random):
    at = 0
    while at < len(data):
        size = rng.choice((1, 2, 3, 7, 50, 400))
        yield data[at:at + size]
        at += size


def test_commands_are_framed_whole_however_the_bytes_arrive():
    stream = b"".join(COMMANDS)
    for seed in range(30):
        framer, got = CommandFramer(), []
        for piece in chunks(stream, random.Random(seed)):
            framer.feed(piece)
            while (framed := framer.next_command()) is not None:
                got.append(framed)
        assert [f.raw for f in got] == COMMANDS
        message = got[1]
        assert [(lit.guid, lit.size) for lit in message.literals] == \
            [("a" * 40, len(BODY1)), ("b" * 40, len(BODY2))]
        assert message.raw[slice(*message.literals[1].data)] == BODY2
        assert [lit.size for lit in got[2].literals] == [7] and got[2].literals[0].guid is None


def converse(relay, steps):
    """Feed (side, bytes) in order; return every event and what was forwarded to the client."""
    forwarded = b""
    for t, (side, data) in enumerate(steps):
        if side == "C":
            relay.from_client(data, t / 100)
        else:
            forwarded += relay.from_server(data, t / 100)
    relay.closed(ev.CLIENT, "", 1.0)
    return relay.events(), forwarded


def deflater():
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    return lambda data: z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)


def login_and_compress_session():
    secret = base64.b64encode(b"\0admin\0secret")
    to_server, to_client = deflater(), deflater()
    return [
        ("S", SERVER_BANNER),
        ("C", b"AUTHENTICATE LOGIN\r\n"), ("S", b"+ VXNlcm5hbWU6\r\n"),
        ("C", base64.b64encode(b"admin") + b"\r\n"), ("S", b"+ UGFzc3dvcmQ6\r\n"),
        ("C", base64.b64encode(b"secret") + b"\r\n"), ("S", b"OK Success (no protection)\r\n"),
        ("C", b"COMPRESS DEFLATE\r\n"),
        ("S", b"OK DEFLATE active\r\n" + to_client(b"")),
        ("C", to_server(b"GET USER alice\r\n")),
        ("S", to_client(MAILBOX[:100])), ("S", to_client(MAILBOX[100:] + b"OK success\r\n")),
        ("C", to_server(b"APPLY MAILBOX %(MBOXNAME user.alice RECORD ())\r\n")),
        ("S", to_client(b"NO IMAP_SYNC_CHECKSUM Checksum Failure\r\n")),
        ("C", to_server(b"EXIT\r\n")), ("S", to_client(b"OK Finished\r\n")),
    ], secret


def test_login_is_hidden_and_the_compressed_session_is_read():
    steps, secret = login_and_compress_session()
    events, forwarded = converse(Relay(1), steps)
    assert forwarded == b"".join(data for side, data in steps if side == "S")   # unchanged
    text = repr(events)
    for hidden in (b"secret", base64.b64encode(b"secret"), b"UGFzc3dvcmQ6", secret):
        assert hidden.decode() not in text
    sent = [e.summary for e in events if isinstance(e, ev.Sent)]
    assert sent == ["AUTHENTICATE LOGIN", "COMPRESS DEFLATE", "GET USER alice",
                    "APPLY MAILBOX %(MBOXNAME user.alice RECORD ())", "EXIT"]
    done = [(e.command, e.done.status) for e in events if isinstance(e, ev.Finished)]
    assert done == [("AUTHENTICATE LOGIN", "OK"), ("COMPRESS", "OK"), ("GET USER", "OK"),
                    ("APPLY MAILBOX", "NO"), ("EXIT", "OK")]
    boxes = [e.event for e in events if isinstance(e, ev.Received)]
    assert isinstance(boxes[0], Mailbox) and boxes[0].name == "user.alice"
    closed = events[-1]
    assert isinstance(closed, ev.Closed) and closed.why == "after EXIT, a normal end"
    assert closed.stats.first_failure == "APPLY MAILBOX: NO IMAP_SYNC_CHECKSUM Checksum Failure"
    assert closed.stats.commands == 4 and closed.waiting is None


def test_no_starttls_removes_only_that_line_from_what_the_client_sees():
    relay = Relay(1, strip_starttls=True)
    forwarded = b"".join(relay.from_server(piece, 0.0)
                         for piece in chunks(SERVER_BANNER + b"OK x\r\n", random.Random(3)))
    assert forwarded == SERVER_BANNER.replace(b"* STARTTLS\r\n", b"") + b"OK x\r\n"
    greeted = [e for e in relay.events() if isinstance(e, ev.Greeted)][0]
    assert greeted.removed == ("* STARTTLS",) and greeted.banner.dialect == "csync"


def test_starttls_passed_through_stops_decoding_but_not_relaying():
    relay = Relay(1)
    events, forwarded = converse(relay, [("S", SERVER_BANNER), ("C", b"STARTTLS\r\n"),
                                         ("S", b"OK Begin TLS negotiation now\r\n"),
                                         ("C", b"\x16\x03\x01binary"), ("S", b"\x16\x03\x03x")])
    assert forwarded.endswith(b"\x16\x03\x03x")
    notes = [e.text for e in events if isinstance(e, ev.Note)]
    assert any("encrypted and cannot be decoded" in n for n in notes)
    assert relay.client_bytes == len(b"STARTTLS\r\n\x16\x03\x01binary")


def test_a_drop_names_the_side_and_the_command_left_waiting():
    relay = Relay(7)
    relay.from_server(b"* OK replica Cyrus sync server 3.6.1\r\n", 0.0)
    relay.from_client(b"APPLY MESSAGE (%{default " + b"c" * 40 + b" 3}\r\nabc)\r\n", 0.1)
    relay.closed(ev.SERVER, "Connection reset by peer", 0.2)
    relay.closed(ev.CLIENT, "", 0.3)                     # the other side's end comes later
    closed = [e for e in relay.events() if isinstance(e, ev.Closed)]
    assert len(closed) == 1 and closed[0].side == ev.SERVER
    assert closed[0].waiting == "APPLY MESSAGE"


def record(events, max_literal=1 << 20):
    lines = []
    session = TranscriptSession(lines.extend, host="replica", host_target=None,
                                max_literal=max_literal)
    for event in events:
        session(event)
    return "\n".join(lines) + "\n"


def test_the_record_is_lint_clean_and_holds_the_commands_byte_for_byte(tmp_path):
    relay = Relay(1)
    relay.opened(0.0, "127.0.0.1:1", "csync://x", 0.0)
    message = COMMANDS[1]
    events, _ = converse(relay, [("S", SERVER_BANNER), ("C", message),
                                 ("S", b"OK success\r\n")])
    text = record(events)
    path = tmp_path / "r.txt"
    path.write_text(text)
    transcript = parse(str(path))
    assert defects(transcript) == []
    apply = [s for s in transcript.steps if s.command.text.startswith("APPLY MESSAGE")][0]
    assert apply.command.text.encode() + b"\r\n" == message
    assert [line.text for line in apply.expected] == ["OK success"]


def test_a_body_over_max_literal_is_named_in_a_comment_and_left_out(tmp_path):
    relay = Relay(1)
    relay.from_server(b"* OK replica Cyrus sync server 3.6.1\r\n", 0.0)
    relay.from_client(COMMANDS[1], 0.1)
    relay.from_server(b"OK success\r\n", 0.2)
    relay.closed(ev.CLIENT, "", 0.3)
    text = record(relay.events(), max_literal=len(BODY1))
    assert "message " + "b" * 40 + f" ({len(BODY2)} bytes, partition default) left out" in text
    path = tmp_path / "r.txt"
    path.write_text(text)
    transcript = parse(str(path))
    assert defects(transcript) == []
    apply = [s for s in transcript.steps if s.command.text.startswith("APPLY MESSAGE")][0]
    assert "second" not in apply.command.text and "first body" in apply.command.text


def test_commands_the_notation_cannot_hold_become_comments():
    from syncsh.tap.frames import Framed
    lines, notes = command_lines(Framed(b"GET USER a\rb\r\n"), 100)
    assert lines == [] and "bare CR" in notes[0]


def test_the_live_view_never_passes_control_sequences_and_marks_failures():
    import io
    from syncsh.tap.show import LiveView
    relay = Relay(2)
    relay.opened(0.0, "127.0.0.1:9", "csync://x", 0.0)
    relay.from_server(b"* OK evil \x1b[2J\x1b]0;title\x07 server 3.6.1\r\n", 0.0)
    relay.from_client(b"GET USER \x1b[31malice\r\n", 0.1)
    relay.from_server(b"* LSUB (\x1b[5m)\r\nNO IMAP_MAILBOX_NONEXISTENT \x9b31m gone\r\n", 0.2)
    relay.closed(ev.SERVER, "", 0.3)
    out = io.StringIO()
    view = LiveView(out, color=False)
    for event in relay.events():
        view(event)
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert "\\x1b[2J" in text and "C: GET USER \\x1b[31malice" in text
    assert "first failure: GET USER: NO IMAP_MAILBOX_NONEXISTENT" in text
    assert "closed by the server" in text


def test_exec_hands_back_the_server_commands_status(tmp_path):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "syncsh", "tap", "-q", "--exec", "exit 3"],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert proc.returncode == 3


def test_an_imap_flavoured_login_is_hidden_too():
    """sync_try_imap: sync_client's tagged IMAP AUTHENTICATE or LOGIN is never shown."""
    secret = base64.b64encode(b"\0admin\0secret")
    for command in (b"A01 AUTHENTICATE PLAIN " + secret + b"\r\n",
                    b"A01 LOGIN admin secret\r\n"):
        relay = Relay(1)
        relay.from_server(b"* OK imapd ready\r\n", 0.0)
        relay.from_client(command, 0.1)
        relay.from_server(b"A01 OK [CAPABILITY X-REPLICATION] Success\r\n", 0.2)
        relay.from_client(b"S0 SYNCGET USER alice\r\n", 0.3)
        events = relay.events()
        text = repr(events)
        assert "secret" not in text and secret.decode() not in text
        sent = [e.summary for e in events if isinstance(e, ev.Sent)]
        assert sent[0] in ("AUTHENTICATE PLAIN", "AUTHENTICATE LOGIN")
        assert sent[1] == "S0 SYNCGET USER alice"              # decoding goes on after it
        assert [e.done.status for e in events if isinstance(e, ev.Finished)] == ["OK"]


def test_concurrent_sessions_in_one_file_never_interleave(tmp_path):
    from syncsh.tap.record import Recorder
    path = tmp_path / "both.txt"
    recorder = Recorder(str(path), host="replica", host_target="unix:/x")
    relays = {n: Relay(n) for n in (1, 2)}
    sinks = {n: recorder.session(n) for n in (1, 2)}

    def step(n, side, data, t):
        relay = relays[n]
        if side == "C":
            relay.from_client(data, t)
        elif side == "S":
            relay.from_server(data, t)
        else:
            relay.closed(ev.CLIENT, "", t)
        for event in relay.events():
            sinks[n](event)

    for n in (1, 2):
        relays[n].opened(0.0, f"peer{n}", "unix:/x", 0.0)
        step(n, "S", b"* OK replica Cyrus sync server 3.6.1\r\n", 0.0)
    step(1, "C", b"GET USER one\r\n", 0.1)
    step(2, "C", b"GET USER two\r\n", 0.1)
    step(2, "S", b"OK success\r\n", 0.2)
    step(1, "S", b"NO IMAP_MAILBOX_LOCKED Mailbox locked\r\n", 0.2)
    step(2, "E", b"", 0.3)                    # the second ends first: written first
    step(1, "E", b"", 0.4)
    text = path.read_text()
    two, one = text.index("# session 2:"), text.index("# session 1:")
    assert two < one
    assert "GET USER one" not in text[two:one] and "GET USER two" not in text[one:]
    assert "first failure: GET USER: NO IMAP_MAILBOX_LOCKED" in text[one:]
    assert not list(tmp_path.glob("*.part"))
    assert defects(parse(str(path))) == []


def test_a_command_too_large_to_hold_is_relayed_unread(monkeypatch):
    import syncsh.tap.relay as relay_module
    monkeypatch.setattr(relay_module, "MAX_COMMAND", 1000)
    relay = Relay(1)
    relay.from_server(b"* OK replica Cyrus sync server 3.6.1\r\n", 0.0)
    relay.from_client(b"APPLY MESSAGE (%{default " + b"d" * 40 + b" 5000}\r\n" + b"x" * 2000, 0.1)
    relay.from_client(b"x" * 3000 + b")\r\nEXIT\r\n", 0.2)
    events = relay.events()
    assert any(isinstance(e, ev.Note) and "no longer decoded" in e.text for e in events)
    assert not any(isinstance(e, ev.Sent) for e in events)
    assert relay.client_bytes == len(b"APPLY MESSAGE (%{default ") + 40 + 8 + 5000 + 9


def test_bad_options_are_one_line_errors():
    import subprocess
    import sys
    for args in (["--listen", "nohost", "--to", "unix:/x"], ["--listen", "127.0.0.1:0"],
                 ["--listen", "127.0.0.1:0", "--to", "http://x"],
                 ["--listen", "127.0.0.1:0", "--to", "unix:/x", "--tls-cert", "c"],
                 ["--listen", "127.0.0.1:0", "--to", "unix:/x", "--connections", "0"],
                 ["--exec", "true", "--to", "unix:/x"],
                 ["--listen", "127.0.0.1:0", "--to", "unix:/x", "--record", "/nonexistent/r"]):
        proc = subprocess.run([sys.executable, "-m", "syncsh", "tap", *args],
                              capture_output=True, timeout=60)
        assert proc.returncode == 2, args
        assert len(proc.stderr.decode().strip().splitlines()) == 1, proc.stderr


def test_reply_bytes_the_notation_cannot_hold_are_written_as_esc_lines():
    from syncsh.tap.record import reply_lines
    from syncsh.transcript.match import Expected, line_match
    raw = b"* x \x1b[2Jtitle\r\n* a\nb\r\n* ends in \\\r\n"
    lines, notes = reply_lines(raw, 1 << 20)
    assert notes == [] and all(line.endswith(" (esc)") for line in lines)
    actual = raw[:-2].decode().split("\r\n")
    assert [line_match(Expected(w), a, {}) for w, a in zip(lines, actual)] == [{}, {}, {}]
