"""Every reply kind with its labels, in tables and in JSON: a number on its own says
nothing to the reader."""

import io
import json

from syncsh.cli import main
from syncsh.protocol.csync import NEED_DATA, CsyncConnection
from syncsh.render.json_lines import JsonRenderer
from syncsh.render.table import TableRenderer

COMMANDS = ["user_all dpc22", "select user.dpc22", "info", "quota user.dpc22",
            "quota user.nobody", "status", "setflags 4140 (hello world)", "info"]


def run(fmt, capsys):
    argv = ["demo:cyrus-1", "--format", fmt]
    for command in COMMANDS:
        argv += ["-c", command]
    assert main(argv) == 0
    return capsys.readouterr().out


def test_documented_dialect_replies_are_labelled_in_tables(capsys):
    out = run("table", capsys)
    assert "\nOK  quota limit 100000 KiB\n> select" in out          # user_all's quota line
    assert "\nOK  uidvalidity " in out and "  uidlast 4156  user flags (none)\n" in out
    assert "> quota user.dpc22\nOK  quota limit 100000 KiB\n" in out
    assert "> quota user.nobody\nOK  quota limit 0 KiB\n" in out
    assert "> status\n" in out and "\nOK  uidlast 4156\n" in out
    assert out.rstrip().endswith("uidlast 4156  user flags hello world")
    assert "\nOK 4156" not in out and "\nOK 100000" not in out     # no bare numbers
    # tables end their lines where their text does: no padding to the column widths
    assert [line for line in out.split("\n") if line.endswith(" ")] == []
    assert "         1  000000000000000000000000\n" in out


def test_documented_dialect_replies_are_labelled_in_json(capsys):
    rows = [json.loads(line) for line in run("json", capsys).splitlines()]
    done = {row["command"] + str(i): row for i, row in enumerate(rows) if row["type"] == "done"}
    values = list(done.values())
    assert values[0]["quota_limit"] == 100000 and values[0]["value"] == 100000   # USER_ALL
    assert values[3]["quota_limit"] == 100000 and values[5]["uidlast"] == 4156
    assert values[2]["value"]["uidlast"] == 4156 and values[7]["value"]["flags"] == [
        "hello", "world"]


MODERN = (b"* QUOTA %(ROOT user.carol LIMIT 10000 STORAGE 10000 MESSAGE 500 MODSEQ 3)\r\n"
          b"OK success\r\n"
          b"* MESSAGE %{default 94b4e66a434cf6a0fa1fabbbbbcba707d5e76f2a 12}\r\n"
          b"Subject: x\r\n\r\nOK success\r\n"
          b"* XFUTURE %(KIND new VALUE 7)\r\nOK success\r\n")


def modern_events():
    conn = CsyncConnection()
    out = []
    for command, size in (("GET QUOTA user.carol", 2), ("GET FETCH %(UID 3)", 2),
                          ("GET XFUTURE x", 2)):
        conn.send(command)
        if not out:
            conn.receive_data(MODERN)
        for _ in range(size):
            event = conn.next_event()
            assert event is not NEED_DATA
            out.append(event)
    return out


def test_modern_replies_are_labelled():
    stream = io.StringIO()
    renderer = TableRenderer(stream, color=False, width=200)
    for event in modern_events():
        renderer.event(event)
    text = stream.getvalue()
    assert "quota  user.carol  storage limit 10000 KiB  message limit 500  modseq 3\n" in text
    assert ("message  guid 94b4e66a434cf6a0fa1fabbbbbcba707d5e76f2a  partition default  "
            "12 bytes") in text
    assert "Subject" not in text                    # a message's bytes are not dumped
    assert "xfuture  kind new  value 7\n" in text
    stream = io.StringIO()
    renderer = JsonRenderer(stream)
    for event in modern_events():
        renderer.event(event)
    rows = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert rows[0] == {"type": "quota", "root": "user.carol", "limit": 10000,
                       "resources": {"STORAGE": 10000, "MESSAGE": 500}, "modseq": 3}
    # a message file is not a message row; an unknown line keeps its name apart from type
    assert rows[2] == {"type": "message-file", "partition": "default", "size": 12,
                       "guid": "94b4e66a434cf6a0fa1fabbbbbcba707d5e76f2a",
                       "body": "Subject: x\r\n"}
    assert rows[4] == {"type": "dlist", "name": "XFUTURE", "value": {"KIND": "new", "VALUE": "7"}}
    from test_json_lines import assert_documented
    assert_documented(rows, "Sessions")


def test_the_diff_report_ends_its_lines_where_their_text_does():
    from conftest import in_process
    result = in_process("diff", "demo:cyrus-1", "demo:cyrus-2", "--user", "dpc22", "--no-color")
    assert result.returncode == 1
    out = result.stdout.decode()
    assert "  dpc22    user.dpc22    uidlast, seen\n" in out           # its summary table
    assert [line for line in out.split("\n") if line.endswith(" ")] == []
