"""The reference sync_server: bytes in, bytes out, against temporary stores."""

import os
import select
import subprocess
import time

import pytest

from syncsh.server.session import OUT, TRACE, ServerSession
from syncsh.server.store import Store

from conftest import server_argv, syncsh

ACL = b'"dpc22\tlrswipcda\tanonymous\t0\t"'
LISTING = [
    b"* 1 000000000000000000000000 ()",
    b"* 3697 0101003f4c56b00545000000 ()",
    b"* 3919 0101003f4c56b04b2900000d ()",
    b"* 3937 0101003f4c56b0514900001f ()",
    b"* 4066 0101003f4c56b07422000002 ()",
    b"* 4089 0101003f4c56b07e56000023 (\\answered)",
    b"* 4118 0101003f4c56b08328000016 ()",
    b"* 4131 0101003f4c56b084d7000002 ()",
    b"* 4136 0101003f4c56b087f3000001 ()",
    b"* 4140 0101003f4c56b08c9d000026 ()",
]


def test_the_documents_first_session_line_for_line(pair):
    _, replica = pair
    commands = (b"user_some dpc22 user.dpc22\r\nselect user.dpc22\r\nexpunge 1\r\n"
                b"setflags 4140 (hello world)\r\nstatus\r\nexit\r\n")
    proc = subprocess.run(server_argv(replica), input=commands, capture_output=True, timeout=30)
    expected = ([b"* Sync Server v0.0 [EXPERIMENTAL]",
                 b"** 6b98205c796c6c61 user.dpc22 " + ACL + b" 4151 1062945305"]
                + LISTING + [b"OK User_Some finished", b"OK 6b98205c796c6c61 4151 1062945305",
                             b"OK Expunge Complete", b"OK Updated flags on 1 messages okay"]
                + LISTING[1:-1] + [b"* 4140 0101003f4c56b08c9d000026 (hello world)", b"OK 4151",
                                   b"OK Finished"])
    assert proc.stdout == b"".join(line + b"\r\n" for line in expected)
    assert b"\t" in proc.stdout.split(b"\r\n")[1]
    assert proc.stderr == b""


def test_trace_at_v_v_goes_to_stderr_only(pair):
    _, replica = pair
    proc = subprocess.run(server_argv(replica, "-v", "-v"),
                          input=b"user_some dpc22 user.dpc22\r\nselect user.dpc22\r\nexit\r\n",
                          capture_output=True, timeout=30)
    assert proc.stderr.decode().splitlines() == ["   USER_SOME dpc22 user.dpc22",
                                                 "   SELECT user.dpc22"]
    assert b"USER_SOME" not in proc.stdout


class Talk:
    """An in-process server session on a store: send lines, get reply lines and traces."""

    def __init__(self, directory, **kw):
        self.store = Store(str(directory))
        self.session = ServerSession(self.store, **kw)
        self.trace = []

    def raw(self, data: bytes) -> bytes:
        out = []
        for channel, payload in self.session.receive(data):
            if channel == OUT:
                out.append(payload)
            else:
                self.trace.append(payload)
        return b"".join(out)

    def __call__(self, line) -> list[str]:
        data = line if isinstance(line, bytes) else line.encode()
        return self.raw(data + b"\r\n").decode("utf-8", "replace").split("\r\n")[:-1]

    def last(self, line) -> str:
        return self(line)[-1]


@pytest.fixture
def replica(pair):
    talk = Talk(pair[1])
    yield talk
    talk.session.end()
    talk.store.close()


@pytest.fixture
def empty(tmp_path):
    talk = Talk(tmp_path / "empty")
    yield talk
    talk.session.end()


def test_generic_errors(replica):
    assert replica.last("") == "BAD Null command"
    assert replica.last(" user dpc22") == "BAD Null command"
    assert replica.last("frobnicate") == "BAD Unrecognized command"
    assert replica.last("select") == "BAD Missing required argument to Select"
    assert replica.last("USER dpc22 extra") == "BAD Unexpected extra arguments to User"
    assert replica.last("user_some dpc22") == "BAD Missing required argument to User_some"
    assert replica.last('select "unterminated') == \
        "BAD Syntax error in Select: unterminated quoted string"
    assert replica.last("create a b c x 1").startswith("BAD Invalid argument to Create")
    assert replica.last("authenticate plain") == "BAD Unrecognized command"    # seed dialect


def test_preconditions(replica):
    assert replica.last("select user.dpc22") == "NO No user selected"
    assert replica.last("status") == "NO Mailbox not open"
    assert replica.last("setflags 1 ()") == "NO Mailbox not open"
    assert replica.last("expunge 1") == "NO Mailbox not open"
    assert replica.last("upload 1 2 COPY 0101003f4c56b00545000000 1 2 3 4 ()") == \
        "NO Mailbox not selected"
    assert replica.last("uidlast 1 2") == "NO Mailbox not open"
    assert replica.last("setseen dpc22 1 2 3 1:2") == "NO Mailbox not open"
    for command in ("list", "lsub", "list_sieve", "addsub user.x", "delsub user.x",
                    "create user.x NIL NIL 0 1", "delete user.x", "rename user.a user.b",
                    "get_sieve x", "activate_sieve x", "deactivate_sieve", "delete_sieve x"):
        assert replica.last(command) == "NO User not selected", command
    assert replica.last("reserve user.dpc22 0101003f4c56b00545000000") == "NO No user selected"
    assert replica.last("contents") == "NO No user selected"


def test_user_select_status_info(replica):
    assert replica.last("USER dpc22") == "OK Locked dpc22"
    assert replica.last("SELECT user.dpc22") == "OK 6b98205c796c6c61 4151 1062945305"
    assert replica.last("SELECT user.nobody") == \
        'NO Failed to select mailbox "user.nobody": Mailbox does not exist'
    assert replica.last("STATUS") == "NO Mailbox not open"       # the failed SELECT closed it
    replica("SELECT user.dpc22")
    assert replica("STATUS")[-1] == "OK 4151"
    assert replica.last("INFO") == f"OK {0x796c6c61} 4151 ()"
    assert replica.last("ENDUSER") == "OK [CONTINUE] Unlocked dpc22"
    assert replica.last("STATUS") == "NO Mailbox not open"


def test_setflags(replica):
    replica("USER dpc22")
    replica("SELECT user.dpc22")
    assert replica.last("SETFLAGS 4089 (\\Answered \\Seen \\Recent world hello) 4140 ()") == \
        "OK Updated flags on 2 messages okay"
    assert replica.trace[-1] == "   SETFLAGS [2 msgs]"
    assert replica.last("setflags 4140 (hello)") == "OK Updated flags on 1 messages okay"
    lines = replica("STATUS")
    assert "* 4089 0101003f4c56b07e56000023 (\\answered world hello)" in lines
    assert "* 4140 0101003f4c56b08c9d000026 (hello)" in lines
    assert replica.last("INFO").endswith("(world hello)")
    assert replica.last("SETFLAGS 0 ()") == "BAD Syntax error in Setflags: Invalid UID"
    assert replica.last("SETFLAGS x ()") == "BAD Syntax error in Setflags: Invalid UID"
    assert replica.last("SETFLAGS 9999 ()") == "BAD Syntax error in Setflags: UID out of range"
    assert replica.last('SETFLAGS 4140 ("quoted")') == "BAD Syntax error in Setflags: Invalid flags"
    assert replica.last("SETFLAGS 4140 (a") == "BAD Syntax error in Setflags: Invalid flags"
    assert replica.last("SETFLAGS 4140 () x") == "BAD Syntax error in Setflags: Invalid UID"
    assert replica.last("SETFLAGS 4140()") == "BAD Garbage at end of Setflags sequence"
    assert replica.last("SETFLAGS 4150 (x)") == "OK Updated flags on 1 messages okay"  # absent UID


def test_expunge(replica):
    replica("USER dpc22")
    replica("SELECT user.dpc22")
    assert replica.last("EXPUNGE 1 3697 5000") == "OK Expunge Complete"
    assert replica.trace[-1] == "   EXPUNGE [3 msgs]"
    assert len(replica("STATUS")) == 9
    assert replica.last("EXPUNGE x") == "BAD Non integer argument"
    assert replica.last("EXPUNGE 5 4") == "BAD UID list out of order"
    assert replica.last("EXPUNGE 5 (4)") == "BAD Non integer argument"
    assert replica.last("EXPUNGE") == "BAD Missing required argument to Expunge"
    assert replica("STATUS")[-1] == "OK 4151"                    # uidlast unchanged


def upload_parsed(uid, body=b"Subject: hi\r\n\r\nhello\r\n", guid="0" * 24, flags=b"()"):
    return (b"PARSED %s %d 1062000000 1062000000 1062000000 %s 15 1 2 {3+}\r\nabc{%d+}\r\n%s"
            % (guid.encode(), uid, flags, len(body), body))


def test_upload_append_merge_copy_and_uidlast(replica):
    replica("USER dpc22")
    replica("SELECT user.dpc22")
    replica("EXPUNGE 1")
    data = b"UPLOAD 4156 1062968700 " + upload_parsed(1)
    assert replica(data)[-1] == "OK Upload 1 messages okay"
    assert replica.trace[-1] == "   UPLOAD [1 msgs]"
    status = replica("STATUS")
    assert status[0] == "* 1 000000000000000000000000 ()" and status[-1] == "OK 4156"
    # COPY of a GUID never staged
    assert replica.last("UPLOAD 4157 1 COPY 0101003f4c56b00545000000 4157 1 1 1 ()") == \
        "BAD Syntax error in Append at item 1: Unknown Reserved message"
    assert replica.trace[-1] == "   UPLOAD [0 msgs] [BAD]"
    # RESERVE stages it; COPY then needs no body
    assert replica("RESERVE user.dpc22 0101003f4c56b00545000000 0101003f4c56b08c9d000026") == [
        "* 0101003f4c56b00545000000", "* 0101003f4c56b08c9d000026", "OK Reserve complete"]
    assert replica.trace[-1] == "   RESERVE user.dpc22 ..."
    assert replica.last("UPLOAD 4157 1 COPY 0101003f4c56b00545000000 4157 1 1 1 (\\flagged)") == \
        "OK Upload 1 messages okay"
    assert replica("STATUS")[-2] == "* 4157 0101003f4c56b00545000000 (\\flagged)"
    # the null GUID is never shared, even after an upload of it
    assert replica.last("UPLOAD 4158 1 COPY 000000000000000000000000 4158 1 1 1 ()") == \
        "BAD Syntax error in Append at item 1: Unknown Reserved message"
    # merge path replaces a UID with the master's version
    data = b"UPLOAD 4157 1 " + upload_parsed(3697, guid="0101003f4c56b0aaaaaaaaaa")
    assert replica(data)[-1] == "OK Upload 1 messages okay"
    assert "* 3697 0101003f4c56b0aaaaaaaaaa ()" in replica("STATUS")
    assert replica.last("UIDLAST 5000 1062999999") == "OK Uidlast succeeded"
    assert replica.trace[-1] == "   UIDLAST 5000 1062999999"
    assert replica("STATUS")[-1] == "OK 5000"


@pytest.mark.parametrize("items, reason", [
    (b"FOO NIL 1 1 1 1 ()", "Invalid type"),
    (b"COPY nothex 1 1 1 1 ()", "Invalid Message-UUID"),
    (b"COPY 0101003f4c56b00545000000 0 1 1 1 ()", "Invalid UID"),
    (b"COPY 0101003f4c56b00545000000 1 0 1 1 ()", "Invalid Internaldate"),
    (b"COPY 0101003f4c56b00545000000 1 1 x 1 ()", "Invalid Sentdate"),
    (b"COPY 0101003f4c56b00545000000 1 1 1 x ()", "Invalid Last update"),
    (b"COPY 0101003f4c56b00545000000 1 1 1 1 (", "Invalid flags"),
    (b"COPY 0101003f4c56b00545000000 1 1 1 1", "Unexpected end of sync_in at end of item"),
    (b"SIMPLE NIL 1 1 1 1 () notaliteral", "Invalid Message"),
    (b"PARSED NIL 1 1 1 1 () x 1 1 {1+}\r\na{1+}\r\nb", "Invalid Header Size"),
    (b"SIMPLE NIL 5 1 1 1 () {1+}\r\na SIMPLE NIL 4 1 1 1 () {1+}\r\nb", "Invalid UID"),
])
def test_upload_item_errors(replica, items, reason):
    replica("USER dpc22")
    replica("SELECT user.dpc22")
    lines = replica(b"UPLOAD 4151 1 " + items)
    assert lines[-1].startswith("BAD Syntax error in Append at item ")
    assert lines[-1].endswith(reason)
    assert len(replica("STATUS")) == 11              # nothing committed


def test_setseen_and_the_seen_state_in_replies(replica):
    replica("USER dpc22")
    replica("SELECT user.dpc22")
    assert replica.last("SETSEEN dpc22 1062968731 4156 1062968731 1:3697,3919:4140") == \
        "OK Setseen Suceeded"
    assert replica.trace[-1] == "   SETSEEN dpc22 ..."
    assert replica.last("SETSEEN dpc22 x 1 1 1") == "BAD Invalid argument to Setseen"
    assert replica("USER_SOME dpc22 user.dpc22")[0].endswith(" 4151 1062968731")
    assert replica.last("SELECT user.dpc22") == "OK 6b98205c796c6c61 4151 1062968731"


def test_create_rename_delete_setacl_list(replica):
    replica("USER dpc22")
    assert replica.last('CREATE user.dpc22.zzz 7f6f384c3f5ba99a "dpc22\tlrswipcda\tanonymous\t0\t"'
                        " 0 1062971802") == "OK Create completed"
    assert replica.trace[-2:] == ["   CREATE user.dpc22.zzz 7f6f384c3f5ba99a",
                                  '          "dpc22\tlrswipcda\tanonymous\t0\t" 0 1062971802']
    assert replica.last("CREATE user.dpc22.zzz NIL NIL 0 1") == \
        "NO Create user.dpc22.zzz failed: Mailbox already exists"
    assert replica.last("CREATE user.dpc22.a NIL NIL 0 1062971802") == "OK Create completed"
    assert replica.last("CREATE user..bad NIL NIL 0 1") == \
        "NO Create user..bad failed: Invalid mailbox name"
    assert replica("LIST") == [
        '* 6b98205c796c6c61 user.dpc22 "dpc22\tlrswipcda\tanonymous\t0\t"',
        '* 6b98205c3f5ba99a user.dpc22.a "dpc22\tlrswipcda\tanonymous\t0\t"'.replace(
            "6b98205c", replica("SELECT user.dpc22.a")[0].split()[1][:8]),
        '* 7f6f384c3f5ba99a user.dpc22.zzz "dpc22\tlrswipcda\tanonymous\t0\t"',
        "OK List completed"]
    assert replica.last("SELECT user.dpc22.zzz") == "OK 7f6f384c3f5ba99a 0 0"
    assert replica.last("RENAME user.dpc22.a user.dpc22.b") == "OK Rename completed"
    assert replica.last("RENAME user.dpc22.a user.dpc22.c") == \
        "NO Rename failed user.dpc22.a -> user.dpc22.c: Mailbox does not exist"
    assert replica.last("RENAME user.dpc22.b user.dpc22.zzz") == \
        "NO Rename failed user.dpc22.b -> user.dpc22.zzz: Mailbox already exists"
    assert replica.last('SETACL user.dpc22.b "dpc22\tlr\t"') == "OK SetAcl Suceeded"
    assert replica.trace[-1] == '   SETACL user.dpc22.b "dpc22\tlr\t"'
    assert replica.last('SETACL user.nope "a\tlr\t"') == \
        "NO SetAcl Failed for user.nope: Mailbox does not exist"
    assert replica.last("DELETE user.dpc22.b") == "OK Delete completed"
    assert replica.last("DELETE user.dpc22.b") == \
        "NO Failed to delete user.dpc22.b: Mailbox does not exist"


def test_user_all_lsub_quota_and_sieve(replica):
    lines = replica("USER_ALL dpc22")
    assert lines[-3:] == ["*** user.dpc22", "**** filters 1062800000 *", "OK 100000"]
    assert replica("LSUB") == ["* user.dpc22", "OK Lsub completed"]
    assert replica.last("ADDSUB user.dpc22.zzz") == "OK Addsub completed"
    assert replica.last("DELSUB user.dpc22") == "OK Delsub completed"
    assert replica("LSUB") == ["* user.dpc22.zzz", "OK Lsub completed"]
    assert replica.last("QUOTA user.dpc22") == "OK 100000"
    assert replica.last("QUOTA user.nobody") == "OK 0"
    assert replica.last("SETQUOTA user.dpc22 200000 1 2 3 4 5") == "OK SetQuota succeeded"
    assert replica.last("SETQUOTA user.dpc22 lots") == "BAD Invalid argument to Setquota"
    assert replica.last("QUOTA user.dpc22") == "OK 200000"
    assert replica("LIST_SIEVE") == ['* "filters" 1062800000 *', "OK List_sieve completed"]
    assert replica(b"UPLOAD_SIEVE vacation 1062900000 {6+}\r\nkeep;\n") == \
        ["OK Upload_sieve completed"]
    assert replica(b"UPLOAD_SIEVE v 1 {1+}\r\nx extra") == ["BAD Unexpected arguments"]
    assert replica.raw(b"GET_SIEVE vacation\r\n") == b"OK {6+}\r\nkeep;\n\r\n"
    assert replica.last("GET_SIEVE nothing") == "NO No such sieve file"
    assert replica.last("ACTIVATE_SIEVE vacation") == "OK Activate_sieve completed"
    assert replica("LIST_SIEVE")[:2] == ['* "filters" 1062800000', '* "vacation" 1062900000 *']
    assert replica.last("ACTIVATE_SIEVE nothing") == "NO Activate_sieve failed: No such script"
    assert replica.last("DEACTIVATE_SIEVE") == "OK Deactivate_sieve completed"
    assert replica.last("DELETE_SIEVE filters") == "OK Delete_sieve completed"
    assert replica.last("DELETE_SIEVE filters") == "NO Delete_sieve failed: No such script"
    assert replica.last("DELETE_SIEVE vacation") == "OK Delete_sieve completed"
    assert replica("LIST_SIEVE") == ["OK No sieve scripts currently active"]


def test_synchronising_literal_gets_go_ahead(replica):
    replica("USER dpc22")
    assert replica.raw(b"UPLOAD_SIEVE v 1 {2}\r\n") == b"+ go ahead\r\n"
    assert replica.raw(b"ok\r\n") == b"OK Upload_sieve completed\r\n"


def test_reset_and_user_all_of_an_absent_user(replica):
    assert replica.last("RESET dpc22") == "OK Account reset"
    assert replica.last("USER_ALL dpc22") == ("NO IMAP_MAILBOX_NONEXISTENT Failed to access inbox "
                                              "for dpc22: Mailbox does not exist")
    assert replica("LSUB") == ["OK Lsub completed"]


def test_contents(replica):
    replica("USER dpc22")
    replica("SELECT user.dpc22")
    out = replica.raw(b"CONTENTS\r\n")
    assert out.startswith(b'* 1 1042017600 "helpdesk@ucs.cam.ac.uk" (\\seen) {')
    assert out.endswith(b"OK Contents succeeded\r\n")
    assert out.count(b"\r\n* ") == 9


def test_restart_keeps_the_connection_and_resets_state(replica):
    replica("USER dpc22")
    replica("SELECT user.dpc22")
    assert replica.last("RESTART") == "OK Restarting"
    assert replica.last("STATUS") == "NO Mailbox not open"
    assert replica.last("EXIT") == "OK Finished"
    assert replica.session.closed


def test_empty_store_starts_an_empty_replica(empty):
    assert empty.last("USER_SOME dpc22 user.dpc22") == "OK User_Some finished"
    assert empty.last("CREATE user.dpc22 NIL NIL 0 1062971802") == "OK Create completed"
    assert empty("USER_SOME dpc22 user.dpc22")[0].startswith("** 6b98205c3f5ba99a user.dpc22 ")


def test_malformed_input_never_stops_the_session(replica):
    for junk in (b"\x00\xff\xfe", b"(((", b")", b'"', b"{5}", b"user_some (a b) c",
                 b"USER " + b"x" * 3000, b"SETFLAGS " + b"(" * 500):
        reply = replica(junk)
        assert reply and reply[-1].split(" ")[0] in ("BAD", "NO", "+"), (junk, reply)
        if reply[-1].startswith("+"):
            replica.raw(b"12345\r\n")
    assert replica.last("USER dpc22") == "OK Locked dpc22"


def test_a_second_session_waits_for_the_user_lock_until_enduser(pair):
    _, replica = pair
    first = subprocess.Popen(server_argv(replica), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    second = subprocess.Popen(server_argv(replica, "--lock-timeout", "20"),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        def line(proc, timeout=10):
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            return proc.stdout.readline() if ready else None

        assert line(first).startswith(b"* Sync Server")
        assert line(second).startswith(b"* Sync Server")
        first.stdin.write(b"USER dpc22\r\n")
        first.stdin.flush()
        assert line(first) == b"OK Locked dpc22\r\n"
        second.stdin.write(b"USER dpc22\r\n")
        second.stdin.flush()
        assert line(second, timeout=0.5) is None          # blocked on the lock
        first.stdin.write(b"ENDUSER\r\n")
        first.stdin.flush()
        assert line(first) == b"OK [CONTINUE] Unlocked dpc22\r\n"
        assert line(second) == b"OK Locked dpc22\r\n"
    finally:
        for proc in (first, second):
            proc.kill()
            proc.wait()


def test_a_session_gives_up_on_a_held_lock_with_no(pair):
    holder = Talk(pair[1])
    waiter = Talk(pair[1], lock_timeout=0.3)
    assert holder.last("USER dpc22") == "OK Locked dpc22"
    started = time.monotonic()
    assert waiter.last("USER dpc22").startswith("NO Failed to lock dpc22: held by another session")
    assert time.monotonic() - started < 5
    holder.session.end()
    assert waiter.last("USER dpc22") == "OK Locked dpc22"


def test_store_is_durable_and_consistent(replica, pair):
    replica("USER dpc22")
    replica("SELECT user.dpc22")
    replica("EXPUNGE 1")
    other = Store(pair[1])
    assert other.integrity_problems() == []
    assert len(list(other.message_lines(other.mailbox("user.dpc22").id))) == 9


def test_a_damaged_store_is_one_line_from_the_server_and_through_a_client(tmp_path):
    (tmp_path / "store.sqlite3").write_bytes(b"not a database\n" * 100)
    proc = syncsh("server", "--store", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.decode() == (f"syncsh: cannot open the store in {tmp_path}: "
                                    "file is not a database\n")
    proc = syncsh(f"exec:{' '.join(server_argv(str(tmp_path)))}", "-c", "user_all dpc22")
    assert proc.returncode != 0 and b"Traceback" not in proc.stderr
    assert b"cannot open the store" in proc.stderr and b"closed the connection" in proc.stderr


def test_every_command_of_the_table_has_its_handler_and_no_other():
    from syncsh.protocol.commands import LEGACY
    from syncsh.server.registry import HANDLERS
    # NOOP is in the table (no write, whatever the server makes of it) and no command of
    # this dialect: the reference server answers it BAD, as the dialect's servers do
    assert set(HANDLERS) == set(LEGACY) - {"NOOP"}
