"""The client codec against the document's lines and the 2005 variants, no server running."""

import pytest
from hypothesis import given, settings, strategies as st

from syncsh.model import Mailbox, Message, SieveScript
from syncsh.protocol.events import (NEED_DATA, Banner, ContentsItem, Done, Reserved, SelectInfo,
                                    Subscription, Untagged)
from syncsh.protocol.legacy import CSYNC, SEED, V23, Y2005, ClientConnection, detect_dialect
from syncsh.protocol.wire import astring, flag_list

DOC_REPLY = (b"** 6b98205c796c6c61 user.dpc22 \"dpc22\tlrswipcda\tanonymous\t0\t\" 4151 1062945305\r\n"
             b"* 1 000000000000000000000000 ()\r\n"
             b"* 4089 0101003f4c56b07e56000023 (\\answered)\r\n"
             b"* 4140 0101003f4c56b08c9d000026 (hello world)\r\n"
             b"OK User_Some finished\r\n")


def connected(dialect_banner=b"* Sync Server v0.0 [EXPERIMENTAL]\r\n"):
    conn = ClientConnection()
    conn.receive_data(dialect_banner)
    assert isinstance(conn.next_event(), Banner)
    return conn


def reply(conn, command, data):
    conn.send(command)
    conn.receive_data(data)
    return list(conn.events())


@pytest.mark.parametrize("banner, dialect, version", [
    ("* Sync Server v0.0 [EXPERIMENTAL]", SEED, "v0.0"),
    ("* OK cyrus-2.csi.cam.ac.uk Cyrus sync server v2.2.12", Y2005, "2.2.12"),
    ("* OK replica Cyrus sync server 2.3.16", V23, "2.3.16"),
    ("* OK replica Cyrus sync server 3.6.1-Debian-3.6.1-4+deb12u5", CSYNC,
     "3.6.1-Debian-3.6.1-4+deb12u5"),
    ("* OK replica Cyrus sync server 2.4.17-caldav-beta10", CSYNC, "2.4.17-caldav-beta10"),
])
def test_dialect_from_each_kind_of_banner(banner, dialect, version):
    assert detect_dialect(banner) == (dialect, version)


def test_capability_lines_come_before_the_banner():
    conn = ClientConnection()
    conn.receive_data(b"* SASL PLAIN LOGIN\r\n* STARTTLS\r\n* OK h Cyrus sync server 2.2.12\r\n")
    events = list(conn.events())
    assert events[-1] == Banner("* OK h Cyrus sync server 2.2.12", Y2005, "2.2.12",
                                ("SASL PLAIN LOGIN", "STARTTLS"))


def test_forced_dialect_wins():
    conn = ClientConnection(dialect=Y2005)
    conn.receive_data(b"* Sync Server v0.0 [EXPERIMENTAL]\r\n")
    assert conn.next_event().dialect == Y2005


def test_the_documents_user_some_reply():
    events = reply(connected(), "user_some dpc22 user.dpc22", DOC_REPLY)
    box, *messages, done = events
    assert box == Mailbox("user.dpc22", "6b98205c796c6c61", "dpc22\tlrswipcda\tanonymous\t0\t",
                          4151, 1062945305)
    assert messages == [Message(1, "0" * 24), Message(4089, "0101003f4c56b07e56000023",
                                                      ("\\answered",)),
                        Message(4140, "0101003f4c56b08c9d000026", ("hello", "world"))]
    assert done == Done("OK", "User_Some finished", "USER_SOME")


def test_2005_mailbox_and_select_carry_a_third_number():
    conn = connected(b"* OK h Cyrus sync server v2.2.12\r\n")
    [box, done] = reply(conn, "USER_SOME dpc22 user.dpc22",
                        b'** 6b98205c796c6c61 user.dpc22 "x\t0\t" 4151 1062945305 4140\r\nOK x\r\n')
    assert box.last_recent_uid == 4140
    [done] = reply(conn, "SELECT user.dpc22", b"OK 6b98205c796c6c61 4151 1062945305 4140\r\n")
    assert done.data == SelectInfo("6b98205c796c6c61", 4151, 1062945305, 4140)


def test_select_status_quota_info_replies_are_typed():
    conn = connected()
    assert reply(conn, "select user.dpc22", b"OK 6b98205c796c6c61 4151 1062945305\r\n")[0].data == \
        SelectInfo("6b98205c796c6c61", 4151, 1062945305)
    assert reply(conn, "status", b"* 3697 0101003f4c56b00545000000 ()\r\nOK 4151\r\n")[-1].data == 4151
    assert reply(conn, "QUOTA user.dpc22", b"OK 100000\r\n")[0].data == 100000
    assert reply(conn, "INFO", b"OK 1062971802 1 (hello world)\r\n")[0].data == {
        "uidvalidity": 1062971802, "uidlast": 1, "flags": ["hello", "world"]}


def test_user_all_subscriptions_sieve_and_quota():
    data = (b'** 7f6f384c3f5ba99a user.dpc22.zzz "d\t0\t" 1 1062971802\r\n'
            b"* 1 0101003f4c56b0a1b2000003 ()\r\n*** user.dpc22\r\n**** vacation 1062900000\r\n"
            b"**** filters 1062800000 *\r\nOK 100000\r\n")
    events = reply(connected(), "USER_ALL dpc22", data)
    assert events[2:] == [Subscription("user.dpc22"), SieveScript("vacation", 1062900000),
                          SieveScript("filters", 1062800000, True),
                          Done("OK", "100000", "USER_ALL", 100000)]


def test_reserve_list_lsub_list_sieve_contents_get_sieve():
    conn = connected()
    assert reply(conn, "RESERVE user.dpc22 0101003f4c56b0a1b2000003",
                 b"* 0101003f4c56b0a1b2000003\r\nOK Reserve complete\r\n")[0] == \
        Reserved("0101003f4c56b0a1b2000003")
    box = reply(conn, "LIST", b'* 6b98205c796c6c61 user.dpc22 "d\t0\t"\r\nOK List completed\r\n')[0]
    assert (box.name, box.uniqueid, box.uidlast) == ("user.dpc22", "6b98205c796c6c61", None)
    assert reply(conn, "LSUB", b"* user.dpc22\r\nOK Lsub completed\r\n")[0] == \
        Subscription("user.dpc22")
    assert reply(conn, "LIST_SIEVE", b'* "filters" 1062800000 *\r\nOK x\r\n')[0] == \
        SieveScript("filters", 1062800000, True)
    item = reply(conn, "CONTENTS", b'* 4140 1062960000 "d@example.org" (\\seen) {5+}\r\nhello\r\n'
                                   b"OK Contents succeeded\r\n")[0]
    assert item == ContentsItem(4140, 1062960000, "d@example.org", ("\\seen",), b"hello")
    assert reply(conn, "GET_SIEVE x", b"OK {4+}\r\nkeep\r\n")[0].data == b"keep"


def test_mailbox_names_as_literals_mid_line():
    name = "user.dpc22.Entw\u00fcrfe"
    data = b"** 0123456789abcdef " + astring(name) + b' "d\t0\t" 3 0\r\nOK x\r\n'
    box = reply(connected(), "USER_SOME dpc22 x", data)[0]
    assert box.name == name


def test_bad_lines_become_events_with_a_problem_and_the_session_goes_on():
    conn = connected()
    events = reply(conn, "STATUS", b"* 12 notaguid\r\ngarbage here\r\n* 1 00 (a\r\nOK 5\r\n")
    assert [type(e) for e in events] == [Untagged, Untagged, Untagged, Done]
    assert all(e.problem for e in events[:3])
    assert reply(conn, "NOOP", b"BAD Unrecognized command\r\n")[0].status == "BAD"


def test_no_codes_and_enduser_restart():
    conn = connected()
    done = reply(conn, "USER_ALL x", b"NO IMAP_MAILBOX_NONEXISTENT Failed to access inbox\r\n")[0]
    assert (done.status, done.code) == ("NO", "IMAP_MAILBOX_NONEXISTENT")
    assert reply(conn, "ENDUSER", b"OK [RESTART] Unlocked dpc22\r\n")[0].code == "RESTART"


def test_need_data_until_a_line_is_complete():
    conn = connected()
    conn.send("STATUS")
    conn.receive_data(b"* 1 0000")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"00000000000000000000 ()\r\n")
    assert conn.next_event() == Message(1, "0" * 24)


flag = st.sampled_from(["\\answered", "\\flagged", "\\deleted", "\\draft", "hello", "$Label1",
                        "world", "Junk"])
messages = st.builds(Message, st.integers(1, 2**32 - 1),
                     st.text("0123456789abcdef", min_size=24, max_size=24),
                     st.lists(flag, unique=True, max_size=4).map(tuple))
mailbox_names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


@settings(max_examples=200)
@given(st.lists(messages, max_size=20), mailbox_names, st.integers(0, 2**32 - 1))
def test_reply_round_trip(msgs, name, uidlast):
    """Encode a mailbox listing the way a server prints it; the codec reads back the same."""
    box = Mailbox(name, "0123456789abcdef", "dpc22\tlrswipcda\t", uidlast, 7)
    data = b"** %s %s %s %d 7\r\n" % (box.uniqueid.encode(), astring(name), astring(box.acl), uidlast)
    for m in msgs:
        data += b"* %d %s %s\r\n" % (m.uid, m.guid.encode(), flag_list(m.flags))
    events = reply(connected(), "USER_SOME u x", data + b"OK done\r\n")
    assert events[0] == box
    assert events[1:-1] == msgs
