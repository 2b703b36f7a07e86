"""Runs of messages (MessageBatch): a big listing read a region at a time must give exactly
what the line-by-line path gives — the same messages, the same other events, the same wire
lines — whatever the chunking and whatever odd lines sit among the plain ones; and diff and
the renderers, reading the columns, come to what they make of the messages one by one."""

import io
import json
import os

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from syncsh.diff import compare as C
from syncsh.errors import ConnectionLost
from syncsh.model import Message, MessageBatch
from syncsh.render import make_renderer
from syncsh.session import Session


class ChunkedTransport:
    """The server's bytes in given pieces; what the client sends is kept."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.pieces = []
        at = 0
        for size in sizes * (len(data) // max(1, min(sizes)) + 1):
            if at >= len(data):
                break
            self.pieces.append(data[at:at + size])
            at += size
        self.sent = b""

    def recv(self, timeout):
        return self.pieces.pop(0) if self.pieces else b""

    def send(self, data):
        self.sent += data

    def close(self):
        pass


def read(data: bytes, sizes: list[int], command: str, batches: bool):
    """(events with runs opened into messages, the wire view's pieces, how many messages
    came in runs, what the session learnt)."""
    session = Session(ChunkedTransport(data, sizes), learn=True)
    session.open()
    wire = []
    session.on_wire = lambda direction, raw: wire.append(raw)
    events, runs = [], 0
    try:
        for event in session.execute(command, batches=batches):
            if isinstance(event, MessageBatch):
                runs += len(event)
                events.extend(event)
            else:
                events.append(event)
    except ConnectionLost:           # a reply damaged so that it never ends
        events.append("connection lost")
    return events, wire, runs, session.learnt


# ----------------------------------------------------------------------------- legacy

hex_guid = st.text("0123456789abcdef", min_size=24, max_size=24)
flag = st.sampled_from(["\\answered", "\\seen", "$Label1", "hello", "caf\u00e9", ""])
plain_line = st.builds(lambda uid, guid, flags: b"* %d %s (%s)\r\n" % (
    uid, guid.encode(), " ".join(flags).encode()), st.integers(1, 2**32), hex_guid,
    st.lists(flag, max_size=3))
odd_line = st.sampled_from([
    b'* 7 000000000000000000000007 ("quoted")\r\n',     # a quote: the tokenizer's path
    b"* 8 00000000000000000000000g ()\r\n",               # not hex
    b"* 9 000000000000000000000009 (a (b))\r\n",          # a parenthesis among the flags
    b"* 10 00000000000000000000000a ()\n",                # LF only
    b"* 11 00000000000000000000000b () \r\n",             # a trailing space
    b'** 6b98205c796c6c62 user.big.sub "big\tlrswipcda\t" 12 1062945305\r\n',
    b"* {3}\r\n1 2 000000000000000000000000 ()\r\n",      # a literal
    b"* garbage\r\n",
])
# stretches of plain lines (runs need 32 in a row) with odd lines between them
listing = st.lists(st.one_of(st.lists(plain_line, min_size=33, max_size=120),
                             st.lists(plain_line, max_size=5),
                             odd_line.map(lambda line: [line])),
                   max_size=8).map(lambda parts: [line for part in parts for line in part])
BANNER = b"* Sync Server v0.0 [EXPERIMENTAL]\r\n"
HEAD = b'** 6b98205c796c6c61 user.big "big\tlrswipcda\t" 100 1062945305\r\n'


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(listing, st.lists(st.one_of(st.integers(1, 64), st.integers(2000, 70000)),
                        min_size=1, max_size=5))
def test_legacy_runs_equal_the_line_by_line_path(lines, sizes):
    data = BANNER + HEAD + b"".join(lines) + b"OK User_Some finished\r\n"
    slow = read(data, sizes, "USER_SOME big user.big", batches=False)
    fast = read(data, sizes, "USER_SOME big user.big", batches=True)
    event(f"messages in runs: {'some' if fast[2] else 'none'}")
    assert fast[0] == slow[0]
    assert fast[1] == slow[1]             # the wire view still sees one line at a time
    assert fast[3].uids == slow[3].uids and fast[3].flags == slow[3].flags
    assert slow[2] == 0


def test_a_big_plain_listing_comes_as_runs():
    lines = b"".join(b"* %d %024x ()\r\n" % (uid, uid) for uid in range(1, 5001))
    data = BANNER + HEAD + lines + b"OK User_Some finished\r\n"
    events, wire, in_runs, _ = read(data, [65536], "USER_SOME big user.big", batches=True)
    assert in_runs == 5000               # the final line in the last region cut it short
    assert [e.uid for e in events if isinstance(e, Message)] == list(range(1, 5001))
    assert len(wire) == 5003 and wire[3] == b"* 2 %024x ()\r\n" % 2     # command first


def test_both_ways_of_cutting_a_run_agree_with_the_line_by_line_path():
    """Runs without a space in any flag list are cut with one split, others with three."""
    for flags in ([b"", b"\\answered", b"$x"], [b"", b"\\answered $x", b"a\tb", b"caf\xc3\xa9 d"]):
        lines = b"".join(b"* %d %024x (%s)\r\n" % (uid, uid, flags[uid % len(flags)])
                         for uid in range(1, 3001))
        data = BANNER + HEAD + lines + b"OK User_Some finished\r\n"
        fast = read(data, [65536], "USER_SOME big user.big", batches=True)
        slow = read(data, [65536], "USER_SOME big user.big", batches=False)
        assert fast[2] == 3000 and fast[0] == slow[0] and fast[1] == slow[1]


def test_an_ok_line_among_message_lines_is_never_read_as_one():
    """A region of message lines with the final line inside: the final line ends the reply."""
    lines = b"".join(b"* %d %024x ()\r\n" % (uid, uid) for uid in range(1, 100))
    data = BANNER + HEAD + lines + b"OK * 100 %024x ()\r\n" % 100
    events, _, _, _ = read(data, [1 << 20], "USER_SOME big user.big", batches=True)
    assert events[-1].status == "OK" and len(events) == 101


# ----------------------------------------------------------------------------- dlist

CSYNC_BANNER = b"* OK replica Cyrus sync server 3.6.1-Debian-3.6.1-4+deb12u5\r\n"
userid = st.sampled_from(['""', "anyone", '"two words"', '"MODSEQ 5 VALUE x"'])
avalue = st.sampled_from(["1795897996", '"hello world"', '""', '"a VALUE b"', "NIL"])
annotation = st.builds(lambda e, u, m, v: "%%(ENTRY %s USERID %s MODSEQ %d VALUE %s)" % (
    e, u, m, v), st.sampled_from(["/vendor/cmu/cyrus-imapd/savedate", "/comment"]), userid,
    st.integers(0, 99), avalue)
dflag = st.sampled_from(["\\Seen", "\\Flagged", "$Important", "\\Expunged", "caf\u00e9"])


def record(uid, modseq, flags, annotations, guid):
    text = ("%%(UID %d MODSEQ %d LAST_UPDATED 1795897996 FLAGS (%s) INTERNALDATE 1700003600 "
            "SIZE %d GUID %s" % (uid, modseq, " ".join(flags), 200 + uid % 1000, guid))
    if annotations is not None:
        text += " ANNOTATIONS (%s)" % " ".join(annotations)
    return (text + ")").encode()


plain_record = st.builds(record, st.integers(1, 2**32), st.integers(1, 2**40),
                         st.lists(dflag, max_size=3),
                         st.one_of(st.none(), st.lists(annotation, max_size=3)),
                         st.text("0123456789abcdef", min_size=40, max_size=40))
odd_record = st.sampled_from([
    b"%(UID 5 MODSEQ 6 LAST_UPDATED 1 FLAGS () INTERNALDATE 1 SIZE 2 GUID "
    b"0000000000000000000000000000000000000005 ANNOTATIONS (%(ENTRY /x USERID \"\" "
    b"MODSEQ 0 VALUE {5+}\r\nhello)))",                                     # a literal value
    b"%(MODSEQ 6 UID 5 LAST_UPDATED 1 FLAGS () INTERNALDATE 1 SIZE 2 GUID "
    b"0000000000000000000000000000000000000005)",                           # other key order
    b'%(UID 6 MODSEQ 7 LAST_UPDATED 1 FLAGS ("quoted") INTERNALDATE 1 SIZE 2 GUID '
    b"0000000000000000000000000000000000000006)",
])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.lists(plain_record, min_size=17, max_size=80),
                          st.lists(plain_record, max_size=4),
                          odd_record.map(lambda record: [record])),
                max_size=6).map(lambda parts: [r for part in parts for r in part]),
       st.lists(st.one_of(st.integers(1, 64), st.integers(4000, 70000)), min_size=1, max_size=5))
def test_dlist_runs_equal_the_record_by_record_path(records, sizes):
    data = (CSYNC_BANNER + b'* MAILBOX %(UNIQUEID u1 MBOXNAME user.big SYNC_CRC 0 LAST_UID 9 '
            b'ACL "a\tl\t" RECORD (' + b" ".join(records) + b"))\r\nOK success\r\n")
    slow = read(data, sizes, "GET FULLMAILBOX user.big", batches=False)
    fast = read(data, sizes, "GET FULLMAILBOX user.big", batches=True)
    event(f"records in runs: {'some' if fast[2] else 'none'}")
    assert fast[0] == slow[0]
    assert fast[1] == slow[1]
    assert b"".join(slow[1][1:]) == data[len(CSYNC_BANNER):]     # every byte shown, once


# ----------------------------------------------------------------------------- diff

def reference_merge(master, replica):
    """The merge as written before runs existed: one message at a time."""
    out, m, r = [], list(master), list(replica)
    i = j = 0
    while i < len(m) or j < len(r):
        if i < len(m) and (j >= len(r) or m[i].uid < r[j].uid):
            out += [("missing-on-replica", m[i].uid)] if not C.is_expunged(m[i]) else []
            i += 1
        elif j < len(r) and (i >= len(m) or r[j].uid < m[i].uid):
            out += [("missing-on-master", r[j].uid)] if not C.is_expunged(r[j]) else []
            j += 1
        else:
            out += [(f.kind, f.uid) for f in C.compare_message(
                "u", "box", m[i], r[j], modern=True, expunged=False, full=True)]
            i += 1
            j += 1
    return out


def split_runs(messages, cuts):
    runs, at = [], 0
    for cut in cuts:
        if at < len(messages):
            runs.append(MessageBatch.of(messages[at:at + cut]))
            at += cut
    if at < len(messages):
        runs.append(MessageBatch.of(messages[at:]))
    return runs


mailbox = st.lists(st.tuples(st.integers(1, 60), st.sampled_from(["a" * 40, "b" * 40]),
                             st.sampled_from([(), ("\\Seen",), ("\\Expunged",)]),
                             st.integers(1, 3), st.integers(100, 101)),
                   max_size=80, unique_by=lambda t: t[0])


@settings(max_examples=150, deadline=None)
@given(mailbox, mailbox, st.lists(st.integers(1, 30), max_size=10),
       st.lists(st.integers(1, 30), max_size=10), st.data())
def test_merge_of_runs_equals_the_message_by_message_merge(a, b, cuts_a, cuts_b, data):
    # replicas are mostly copies: take a run of the master's messages as well
    b = sorted({t[0]: t for t in b + data.draw(st.sampled_from([a, a[5:], []]))}.values())
    a = sorted(a)

    def messages(rows):
        return [Message(uid, guid, flags, modseq=modseq, size=size)
                for uid, guid, flags, modseq, size in rows]
    m, r = messages(a), messages(b)
    counts = C.MailboxCounts()
    found = [(f.kind, f.uid) for f in C.merge_runs("u", "box", split_runs(m, cuts_a),
                                                   split_runs(r, cuts_b), modern=True,
                                                   full=True, counts=counts)]
    assert found == reference_merge(m, r)
    assert (counts.master_messages, counts.replica_messages) == (len(m), len(r))


# ----------------------------------------------------------------------------- renderers

def test_renderers_write_a_run_as_they_write_its_messages():
    messages = [Message(uid, "%024x" % uid, ("\\answered", "$x") if uid % 3 else ())
                for uid in range(1, 200)]
    for fmt in ("table", "json"):
        one, run = io.StringIO(), io.StringIO()
        each = make_renderer(fmt, one, color=False, width=120)
        whole = make_renderer(fmt, run, color=False, width=120)
        for message in messages:
            each.event(message)
        whole.event(MessageBatch.of(messages[:50]))
        whole.event(MessageBatch.of(messages[50:]))
        assert run.getvalue() == one.getvalue(), fmt
    first = json.loads(run.getvalue().splitlines()[1])
    assert first == {"type": "message", "uid": 2, "guid": "%024x" % 2,
                     "flags": ["\\answered", "$x"]}


def test_a_run_with_a_guid_that_needs_quoting_is_still_valid_json():
    out = io.StringIO()
    make_renderer("json", out).event(MessageBatch.of([Message(1, 'odd"guid', ())]))
    assert json.loads(out.getvalue())["guid"] == 'odd"guid'


def test_a_modern_run_iterates_to_full_messages():
    m = Message(5, "ab" * 20, ("\\Seen",), 1700003600, None, 1795897996, 283, 6,
                (("/vendor/cmu/cyrus-imapd/savedate", "", "0", "1795897996"),))
    run = MessageBatch.of([m, m])
    assert list(run) == [m, m] and run[1] == m


# ----------------------------------------------------------------------------- damaged runs

def damaged(data: bytes, edits) -> bytes:
    """data with a few bytes replaced, dropped or inserted at the given places."""
    data = bytearray(data)
    for where, kind, byte in edits:
        at = where % max(1, len(data))
        if kind == 0:
            data[at] = byte
        elif kind == 1:
            del data[at]
        else:
            data.insert(at, byte)
    return bytes(data)


STRESS = os.environ.get("SYNCSH_STRESS") == "1"      # ./dev stress: many more damaged runs
DAMAGED = settings(max_examples=20_000 if STRESS else 150, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])

edits = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 2),
                           st.sampled_from(b" ()*\r\n\"{}%0a9\\\x00\xc3\xa0")), min_size=1,
                 max_size=4)


@pytest.mark.stress
@DAMAGED
@given(edits, st.integers(40, 120), st.sampled_from([[65536], [7], [1500, 333]]))
def test_a_damaged_legacy_listing_reads_the_same_both_ways(changes, count, sizes):
    lines = b"".join(b"* %d %024x (%s)\r\n" % (uid, uid, b"\\answered $x" if uid % 3 else b"")
                     for uid in range(1, count))
    data = BANNER + HEAD + damaged(lines, changes) + b"OK User_Some finished\r\n"
    slow = read(data, sizes, "USER_SOME big user.big", batches=False)
    fast = read(data, sizes, "USER_SOME big user.big", batches=True)
    assert fast[0] == slow[0] and fast[1] == slow[1]


@pytest.mark.stress
@DAMAGED
@given(edits, st.integers(20, 60), st.sampled_from([[65536], [7], [1500, 333]]))
def test_a_damaged_record_list_reads_the_same_both_ways(changes, count, sizes):
    records = b" ".join(record(uid, uid + 1, ["\\Seen"] if uid % 2 else [],
                               ['%(ENTRY /x USERID "" MODSEQ 0 VALUE "a b")'], "ab" * 20)
                        for uid in range(1, count))
    data = (CSYNC_BANNER + b'* MAILBOX %(UNIQUEID u1 MBOXNAME user.big SYNC_CRC 0 LAST_UID 9 '
            b'ACL "a\tl\t" RECORD (' + damaged(records, changes) + b"))\r\nOK success\r\n")
    slow = read(data, sizes, "GET FULLMAILBOX user.big", batches=False)
    fast = read(data, sizes, "GET FULLMAILBOX user.big", batches=True)
    assert fast[0] == slow[0] and fast[1] == slow[1]
