"""The dlist codec, with no server running: round trips, streaming, every captured reply."""

import os
import re

from hypothesis import given, settings, strategies as st

from syncsh.protocol import dlist
from syncsh.protocol.csync import CsyncConnection, MailboxEnd
from syncsh.protocol.dlist import Reader, Record, RecordsStart, parse_value
from syncsh.protocol.dlist_values import KV, File, Flag, encode
from syncsh.protocol.events import NEED_DATA, Done, Untagged
from syncsh.model import Mailbox, Message

from conftest import ROOT

CAPTURES = os.path.join(ROOT, "tests", "fixtures", "cyrus-3.6-wire-captures.md")

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
scalars = st.one_of(st.none(), text, st.integers(0, 2**63), st.binary(max_size=40),
                    st.sampled_from([Flag("\\Seen"), Flag("\\Expunged"), Flag("$Label1")]),
                    st.builds(File, st.sampled_from(["default", "p2"]),
                              st.text("0123456789abcdef", min_size=40, max_size=40),
                              st.binary(max_size=50)))
keys = st.from_regex(r"[A-Z][A-Z_]{0,12}", fullmatch=True)
values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4),
    st.dictionaries(keys, children, max_size=4).map(KV)), max_leaves=20)


@settings(max_examples=400)
@given(values)
def test_encode_parse_encode_is_the_identity(value):
    once = encode(value)
    assert encode(parse_value(once)) == once


def test_printing_follows_cyrus():
    assert encode(KV(ACL="alice\tlrswipkxtecdan\t", OPTIONS="", USERID="", X="NIL", N=None)) == \
        b'%(ACL "alice\tlrswipkxtecdan\t" OPTIONS "" USERID "" X "NIL" N NIL)'
    assert encode([Flag("\\Seen"), "hello", 5]) == b"(\\Seen hello 5)"
    assert encode("two\r\nlines") == b"{10+}\r\ntwo\r\nlines"     # never a plain {n}
    assert encode(File("default", "ab" * 20, b"hi")) == b"%{default " + b"ab" * 20 + b" 2}\r\nhi"


RECORD = (b"%%(UID %d MODSEQ %d LAST_UPDATED 1795897996 FLAGS (\\Seen) INTERNALDATE 1700003600 "
          b"SIZE 283 GUID 57a52507cab291fb9717bf5ee479a3337f1aa997 ANNOTATIONS (%%(ENTRY "
          b'/vendor/cmu/cyrus-imapd/savedate USERID "" MODSEQ 0 VALUE 1795897996)))')


def test_records_stream_before_the_reply_ends():
    conn = CsyncConnection()
    conn.send("GET FULLMAILBOX user.big")
    head = b'* MAILBOX %(UNIQUEID abc MBOXNAME user.big SYNC_CRC 0 LAST_UID 5000 ACL "a\tl\t" RECORD ('
    conn.receive_data(head + b" ".join(RECORD % (i, i) for i in range(1, 1001)) + b" ")
    events = list(iter(conn.next_event, NEED_DATA))
    assert isinstance(events[0], Mailbox) and events[0].name == "user.big"
    assert [e.uid for e in events[1:]] == list(range(1, 1001))      # no end of line yet
    assert events[1].annotations == (("/vendor/cmu/cyrus-imapd/savedate", "", "0", "1795897996"),)
    conn.receive_data(RECORD % (1001, 1001) + b"))\r\nOK success\r\n")
    rest = list(iter(conn.next_event, NEED_DATA))
    assert isinstance(rest[0], Message) and isinstance(rest[1], MailboxEnd)
    assert rest[-1] == Done("OK", "success", "GET FULLMAILBOX")


def test_the_wire_view_shows_every_byte_once():
    """A line that stands for several events is shown with the first; the end of a streamed
    MAILBOX line is shown with the mailbox's end."""
    from test_runs import CSYNC_BANNER, read
    reply = (b"* LSUB (user.a user.b user.c)\r\n* MAILBOX %(UNIQUEID u MBOXNAME user.x "
             b"RECORD (" + RECORD % (1, 2) + b"))\r\nOK success\r\n")
    for sizes in ([65536], [3]):
        events, wire, _, _ = read(CSYNC_BANNER + reply, sizes, "GET USER x", False)
        assert b"".join(wire[1:]) == reply
        assert wire[1:3] == [b"* LSUB (user.a user.b user.c)\r\n",
                             b"* MAILBOX %(UNIQUEID u MBOXNAME user.x RECORD ("]
        assert wire[-2:] == [b"))\r\n", b"OK success\r\n"]
        assert [type(e).__name__ for e in events] == ["Subscription"] * 3 + [
            "Mailbox", "Message", "MailboxEnd", "Done"]


def test_general_path_equals_fast_path():
    """Records read a byte at a time (never the fast path) equal records read whole."""
    line = b"* MAILBOX %(MBOXNAME m RECORD (" + RECORD % (1, 2) + b" " + RECORD % (2, 3) + b"))\r\n"
    whole = Reader()
    whole.feed(line)
    slow = Reader()
    slow_events = []
    for i in range(len(line)):
        slow.feed(line[i:i + 1])
        slow_events += list(slow.events())
    fast_records = [e.value for e in whole.events() if isinstance(e, Record)]
    slow_records = [e.value for e in slow_events if isinstance(e, Record)]
    assert fast_records == slow_records and len(fast_records) == 2


def test_bad_lines_are_events_with_a_problem():
    conn = CsyncConnection()
    conn.send("GET USER x")
    conn.receive_data(b"* MAILBOX %(A ) extra\r\n* Fatal error: cannot open\r\n* X (a\r\n b)\r\n"
                      b"garbage\r\nNO IMAP_PROTOCOL_ERROR Protocol error\r\n")
    events = list(iter(conn.next_event, NEED_DATA))
    assert [type(e).__name__ for e in events] == ["Untagged", "Untagged", "DlistLine", "Untagged",
                                                  "Done"]
    assert events[1].problem.startswith("fatal error")
    assert events[-1].code == "IMAP_PROTOCOL_ERROR"


def _unescape(text: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "r":
                out += b"\r"
                i += 2
                continue
            if nxt == "n":
                out += b"\n"
                i += 2
                continue
            if nxt == "\\":
                out += b"\\"
                i += 2
                continue
            if nxt == "x":
                out.append(int(text[i + 2:i + 4], 16))
                i += 4
                continue
        out += ch.encode()
        i += 1
    return bytes(out)


def captured_server_streams():
    blocks, current = [], None
    for line in open(CAPTURES, encoding="utf-8").read().split("\n"):
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    for block in blocks:
        if "\\r\\n" not in block:
            continue                    # terminal output (synctest, sync_client), not wire bytes
        # a literal's bytes go on in lines without a prefix, for the side that sent them
        parts, side = [], None
        for line in block.split("\n"):
            if line.startswith(("S: ", "C: ")):
                side = line[0]
                line = line[3:]
            elif line.startswith("-- ") or not line:
                side = None
                continue
            if side == "S":
                # the capture's own notes: <no further reply …>, <EOF: …>
                parts.append(_unescape(re.sub(r"<(no further reply|EOF)[^>]*>", "", line)))
        stream = b"".join(parts)
        if b"Cyrus sync server" in stream:
            yield stream


def test_every_reply_in_the_wire_captures_parses():
    streams = list(captured_server_streams())
    assert len(streams) >= 20
    total = 0
    for stream in streams:
        # the greeting is read line by line; the dlist codec starts after the banner
        start = 0
        for banner in re.finditer(rb"\* OK [^\r\n]*Cyrus sync server[^\r\n]*\r?\n", stream):
            start = banner.end()
        conn = CsyncConnection(leftover=stream[start:])
        conn.reader.feed(b"")
        for event in iter(conn.next_event, NEED_DATA):
            total += 1
            if isinstance(event, Untagged):
                assert event.problem is None or event.text.startswith("* Fatal error"), \
                    (event, stream[:200])
    assert total > 100


def test_flat_lines_read_at_once_give_what_the_token_path_gives():
    """A kvlist of atoms and plain strings is read with two expressions (most of a GET
    USER reply): the same events, types included, however the bytes are cut."""
    import random
    from syncsh.protocol import dlist

    def shape(value):
        if isinstance(value, dict):
            return (type(value).__name__, [(k, shape(v)) for k, v in value.items()])
        if isinstance(value, list):
            return ("list", [shape(v) for v in value])
        return (type(value).__name__, value)

    def read(data, fast, chunk=None):
        reader = dlist.Reader()
        if not fast:
            reader._flat_line = lambda: None
        out = []
        for i in range(0, len(data), chunk or len(data)):
            reader.feed(data[i:i + (chunk or len(data))])
            out += list(reader.events())
        reader.feed(b"")
        out += list(reader.events())
        return [(type(e).__name__, getattr(e, "name", None),
                 shape(getattr(e, "value", getattr(e, "text", None)))) for e in out]
    values = [b"NIL", b"x", b"user.a", b"$Label", b"\\Seen", b"123", b'""', b'"a b"',
              b'"t\tab"', b'"%x"', b"a%b", b"a\tb", b"{3+}", b"(a b)", b'"q\\"x"']
    rnd = random.Random(7)
    for _ in range(1500):
        parts = []
        for _ in range(rnd.randint(0, 5)):
            parts += [rnd.choice([b"UNIQUEID", b"MBOXNAME", b"ACL"]), rnd.choice(values)]
        data = b"* MAILBOX %(" + rnd.choice([b" ", b"  "]).join(parts) + b")\r\nOK success\r\n"
        expected = read(data, False)
        for chunk in (None, 1, 9):
            assert read(data, True, chunk) == expected, data
