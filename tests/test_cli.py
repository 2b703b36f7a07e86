"""The one-shot client as a user runs it: real processes, the demo pair, exec: targets."""

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import syncsh


def test_version():
    proc = syncsh("--version")
    assert proc.returncode == 0 and proc.stdout.startswith(b"syncsh ")


def test_user_some_on_the_demo_renders_the_mailbox_and_its_ten_messages():
    proc = syncsh("demo:cyrus-2", "-c", "user_some dpc22 user.dpc22", "--format", "table")
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr
    assert "6b98205c796c6c61" in out and "uidlast" in out and "4151" in out
    assert "2003-09-07 14:35:05 UTC" in out
    assert out.count("0101003f4c56b0") == 9 and "000000000000000000000000" in out
    assert "dpc22" in out and "lrswipcda" in out and "anonymous" in out
    assert "10 message(s)" in out


def test_piped_output_is_the_raw_wire_lines():
    proc = syncsh("-c", "user_some dpc22 user.dpc22", "demo:cyrus-2")
    lines = proc.stdout.decode().splitlines()
    assert lines[0] == "* Sync Server v0.0 [EXPERIMENTAL]"
    assert lines[1] == '** 6b98205c796c6c61 user.dpc22 "dpc22\tlrswipcda\tanonymous\t0\t" 4151 1062945305'
    assert lines[-1] == "OK User_Some finished" and len(lines) == 13


def test_json_lines():
    proc = syncsh("demo:cyrus-2", "--format", "json", "-c", "user_some dpc22 user.dpc22",
                  "-c", "select user.dpc22")
    objects = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    types = [o["type"] for o in objects]
    assert types.count("message") == 10 and types[0] == "banner"
    box = next(o for o in objects if o["type"] == "mailbox")
    assert box["acl_entries"] == [["dpc22", "lrswipcda"], ["anonymous", "0"]]
    assert objects[-1]["select"] == {"uniqueid": "6b98205c796c6c61", "uidlast": 4151,
                                     "seen_lastchange": 1062945305}


def test_exit_status_1_on_no_or_bad_and_every_command_runs(tmp_path):
    script = tmp_path / "cmds"
    script.write_text("# a comment\nuser dpc22\nselect user.nope\nquota user.dpc22\n")
    proc = syncsh("demo:cyrus-2", "-f", str(script), "-c", "bogus")
    out = proc.stdout.decode().splitlines()
    assert proc.returncode == 1
    assert out[1:] == ["OK Locked dpc22", 'NO Failed to select mailbox "user.nope": '
                       "Mailbox does not exist", "OK 100000", "BAD Unrecognized command"]


def test_commands_from_stdin():
    proc = syncsh("demo:cyrus-2", "-f", "-", input=b"user dpc22\nenduser\n")
    assert proc.returncode == 0
    assert proc.stdout.decode().splitlines()[1:] == ["OK Locked dpc22",
                                                     "OK [CONTINUE] Unlocked dpc22"]


def test_writes_go_through_on_demo_targets():
    proc = syncsh("demo:cyrus-2", "-c", "user dpc22", "-c", "addsub user.dpc22.x")
    assert proc.returncode == 0 and b"OK Addsub completed" in proc.stdout


def exec_target(tmp_path):
    from syncsh import demo
    demo.init(str(tmp_path / "p"))
    store = tmp_path / "p" / "cyrus-2"
    return f"exec:{sys.executable} -m syncsh server --store {store}"


def test_guard_rail_refuses_writes_on_other_targets_in_one_shot_mode(tmp_path):
    target = exec_target(tmp_path)
    proc = syncsh(target, "-c", "user dpc22", "-c", "addsub user.dpc22.x")
    assert proc.returncode == 2
    assert proc.stdout == b""                        # nothing was sent, not even the read
    assert proc.stderr.decode().strip().splitlines() == [
        f"syncsh: refused: ADDSUB writes to {target}; pass --allow-writes to send it"]
    proc = syncsh(target, "--allow-writes", "-c", "user dpc22", "-c", "addsub user.dpc22.x")
    assert proc.returncode == 0 and b"OK Addsub completed" in proc.stdout
    proc = syncsh(target, "-c", "frobnicate")        # unknown: treated as a write
    assert proc.returncode == 2 and b"refused" in proc.stderr


def test_read_only_refuses_every_write_even_on_demo():
    proc = syncsh("demo:cyrus-2", "--read-only", "-c", "user dpc22", "-c", "expunge 1")
    assert proc.returncode == 2
    assert b"--read-only" in proc.stderr and proc.stdout == b""
    proc = syncsh("demo:cyrus-2", "--read-only", "--allow-writes", "-c", "user dpc22")
    assert proc.returncode == 2 and b"not allowed with" in proc.stderr


def test_input_that_would_desynchronise_the_server_is_never_sent():
    for command in ("setflags 4140 (hello", 'select "user.dpc22', "user_some dpc22",
                    "upload_sieve x 1 {5}"):
        proc = syncsh("demo:cyrus-2", "-c", command)
        assert proc.returncode == 2, command
        assert len(proc.stderr.decode().strip().splitlines()) == 1


def test_a_silent_server_ends_in_exit_2_not_a_hang(tmp_path):
    fake = tmp_path / "silent.py"
    fake.write_text("import sys, time\nsys.stdout.write('* Sync Server v0.0 [EXPERIMENTAL]\\r\\n')\n"
                    "sys.stdout.flush()\ntime.sleep(60)\n")
    proc = syncsh(f"exec:{sys.executable} {fake}", "--timeout", "0.5", "-c", "user dpc22",
                  timeout=20)
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == f"syncsh: no reply from exec:{sys.executable} {fake} within 0.5s"


def test_a_dead_server_and_a_missing_program_are_one_line_errors(tmp_path):
    proc = syncsh("exec:/bin/true", "-c", "user dpc22")
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == "syncsh: the server closed the connection"
    proc = syncsh("exec:/nonexistent/sync_server", "-c", "user dpc22")
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    assert b"Traceback" not in proc.stderr


def test_bad_targets_and_options_are_usage_errors():
    for args in (["nowhere", "-c", "x"], ["demo:cyrus-9", "-c", "x"], ["exec:", "-c", "x"],
                 ["exec:'unbalanced", "-c", "x"], ["--format", "xml", "-c", "x"],
                 ["demo:cyrus-2", "--timeout", "-1", "-c", "x"],
                 ["demo:cyrus-2", "--deadline", "nan", "-c", "x"],
                 ["diff", "demo:cyrus-1", "demo:cyrus-2", "--user", "u", "--recheck", "-3"],
                 ["server", "--store", "/nonexistent/x", "--lock-timeout", "-5"],
                 ["tap", "--listen", "127.0.0.1:99999", "--to", "csync://127.0.0.1:1"]):
        proc = syncsh(*args)
        assert proc.returncode == 2, args
        assert len(proc.stderr.decode().strip().splitlines()) == 1, proc.stderr


def test_server_cli_and_demo_commands(tmp_path):
    proc = syncsh("demo", "init", str(tmp_path / "d"))
    assert proc.returncode == 0
    assert os.path.exists(tmp_path / "d" / "cyrus-1" / "store.sqlite3")
    proc = syncsh("demo", "init", str(tmp_path / "d"))           # never over stores silently
    assert proc.returncode == 2 and b"--force" in proc.stderr
    assert syncsh("demo", "init", "--force", str(tmp_path / "d")).returncode == 0
    proc = syncsh("server", "--store", str(tmp_path / "fresh"), input=b"QUOTA x\r\nEXIT\r\n")
    assert proc.stdout == b"* Sync Server v0.0 [EXPERIMENTAL]\r\nOK 0\r\nOK Finished\r\n"
    proc = syncsh("server", "--store", str(tmp_path / "d" / "cyrus-2"), "--dialect", "2005",
                  input=b"USER dpc22\r\nSELECT user.dpc22\r\n")
    lines = proc.stdout.split(b"\r\n")
    assert b"Cyrus sync server 2.2" in lines[0]
    assert lines[2] == b"OK 6b98205c796c6c61 4151 1062945305 4151"


def test_demo_reset_restores_the_pair():
    syncsh("demo:cyrus-2", "-c", "user dpc22", "-c", "select user.dpc22", "-c", "expunge 1")
    proc = syncsh("demo:cyrus-2", "-c", "user dpc22", "-c", "select user.dpc22", "-c", "status")
    assert b"* 1 000000000000000000000000" not in proc.stdout
    assert syncsh("demo", "reset").returncode == 0
    proc = syncsh("demo:cyrus-2", "-c", "user dpc22", "-c", "select user.dpc22", "-c", "status")
    assert b"* 1 000000000000000000000000" in proc.stdout


def test_commands_piped_in_run_as_a_script():
    """syncsh < FILE (or a pipe) runs the commands as -f - does: no prompt, no terminal
    warnings, the raw reply lines."""
    proc = syncsh("demo:cyrus-2", input=b"# a comment\nuser_some dpc22 user.dpc22\nquota user.dpc22\n")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "syncsh>" not in out and b"not a terminal" not in proc.stderr
    assert out.splitlines()[0] == "* Sync Server v0.0 [EXPERIMENTAL]"
    assert "* 4140 0101003f4c56b08c9d000026 ()" in out and out.rstrip().endswith("OK 100000")
    proc = syncsh("demo:cyrus-2", input=b"")
    assert proc.returncode == 0 and proc.stdout.decode() == "* Sync Server v0.0 [EXPERIMENTAL]\n"


@pytest.mark.parametrize("text, host, port", [
    ("csync://admin@[::1]:15311", "::1", 15311),
    ("csync://admin@[fe80::1]", "fe80::1", 2005),
    ("csync://admin@replica.example", "replica.example", 2005),
    ("ssh://cyrus@[::1]:2222/usr/lib/cyrus/bin/sync_server", "::1", 2222),
])
def test_hosts_and_ports_of_targets(text, host, port):
    from syncsh.targets import parse_target
    target = parse_target(text)
    assert (target.host, target.port or 2005) == (host, port)


@pytest.mark.parametrize("text, why", [
    ("csync://admin@[::1", "an IPv6 address is written [ADDRESS]:PORT"),
    ("csync://admin@[::1]2005", "an IPv6 address is written [ADDRESS]:PORT"),
    ("csync://admin@[::1]:", "empty port"),
    ("csync://admin@[]:5", "no host"),
    ("csync://admin@h:0", "bad port '0'"),
    ("csync://admin@h:²", "bad port '²'"),
    ("csync://admin@h:٣٣", "bad port '٣٣'"),
    ("ssh://@h", "empty user name"),
    ("csync://h", "name the Cyrus administrator"),
])
def test_bad_targets_say_why(text, why):
    from syncsh.errors import UsageError
    from syncsh.targets import parse_target
    with pytest.raises(UsageError, match=re.escape(f"bad target {text!r}: {why}")):
        parse_target(text)


def test_a_closed_stdin_is_one_line():
    import subprocess
    proc = subprocess.run([sys.executable, "-m", "syncsh", "demo:cyrus-2"], stdin=None,
                          capture_output=True, timeout=60, preexec_fn=lambda: os.close(0))
    assert proc.returncode == 2
    assert proc.stderr.decode() == ("syncsh: standard input is closed: give commands with "
                                    "-c COMMAND or -f FILE\n")


def parsers():
    """Every parser syncsh builds (the client's and each sub-command's, sub-parsers too),
    caught as it is about to parse."""
    import argparse
    import importlib
    from syncsh import cli
    found = {"syncsh": importlib.import_module(cli.CLIENT).parser()}
    for name, module in cli.COMMANDS.items():
        found[name] = importlib.import_module(module).parser()
    for name, parser in list(found.items()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                found.update({f"{name} {sub}": p for sub, p in action.choices.items()})
    return found


def test_every_option_of_every_command_has_help_text():
    found = parsers()
    assert {"syncsh", "diff", "server", "demo", "demo init", "replicate", "replay", "record",
            "tap"} <= set(found)
    missing = [f"{name} {action.option_strings or action.dest}"
               for name, parser in found.items() for action in parser._actions
               if not action.help and not action.__class__.__name__.startswith("_SubParsers")]
    assert missing == []


def test_each_command_lists_only_its_own_options():
    found = parsers()

    def options(name):
        return {o for action in found[name]._actions for o in action.option_strings}
    diff = options("diff")
    assert not diff & {"--lock-idle", "--allow-writes", "--read-only", "--no-pager"}
    assert {"--user", "--timeout", "--tls", "--remote-command", "--format"} <= diff
    format_choices = [a.choices for a in found["diff"]._actions if "--format" in a.option_strings]
    assert format_choices == [("table", "json")]
    assert {"--lock-idle", "--allow-writes", "--no-pager"} <= options("syncsh")
    assert {"--lock-idle", "--no-pager"} <= options("record")
    result = syncsh("diff", "demo:cyrus-1", "demo:cyrus-2", "--user", "dpc22",
                    "--lock-idle", "5")
    assert (result.returncode, result.stderr) == (
        2, b"syncsh: unrecognized arguments: --lock-idle 5\n")


def test_help_names_every_target_form():
    from syncsh.targets import FORMS, SCHEMES
    text = syncsh("--help").stdout.decode()
    for form, meaning in FORMS:
        assert f"\n  {form}\n      {meaning.split()[0]}" in text
    assert all(any(form.startswith(scheme) for form, _ in FORMS) for scheme in SCHEMES)
    assert [line for line in text.splitlines() if len(line) > 80] == []


LISTING_SERVER = """import sys
sys.stdout.buffer.write(b'* Sync Server v0.0 [EXPERIMENTAL]\\r\\n'); sys.stdout.flush()
for line in iter(sys.stdin.buffer.readline, b''):
    if line.upper().startswith(b'EXIT'):
        sys.stdout.buffer.write(b'OK Finished\\r\\n'); sys.stdout.flush(); break
    sys.stdout.buffer.write(open(sys.argv[1], 'rb').read()); sys.stdout.flush()
"""


def test_raw_output_of_a_big_listing_is_the_servers_lines(tmp_path):
    """A listing's runs go to the raw view whole (no per-line work): the file holds the
    server's lines exactly, CRLF as a newline, however the runs were cut."""
    reply = [b'** 6b98205c796c6c61 user.big "big\\tlrswipcda\\t" 30010 1062945305\r\n']
    for uid in range(1, 30001):
        flags = (b"\\answered", b"", b"$Label one", b"\\seen \\flagged")[uid % 4]
        reply.append(b"* %d 0101003f4c56b0%010x (%s)\r\n" % (uid, uid, flags))
        if uid == 15000:
            reply.append(b"* 15000x a line that is not a message\r\n")
    reply.append(b"OK User_Some finished\r\n")
    listing = tmp_path / "listing"
    listing.write_bytes(b"".join(reply))
    server = tmp_path / "server.py"
    server.write_text(LISTING_SERVER)
    out = tmp_path / "out"
    with open(out, "wb") as handle:
        done = subprocess.run([sys.executable, "-m", "syncsh", f"exec:{sys.executable} {server} "
                               f"{listing}", "--format", "raw", "-c", "user_some big user.big"],
                              stdout=handle, stderr=subprocess.PIPE, timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == (b"* Sync Server v0.0 [EXPERIMENTAL]\n"
                                + b"".join(reply).replace(b"\r\n", b"\n"))
