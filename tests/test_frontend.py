"""The front-end layer: main(argv, env) runs every command over the Environment it is
given (nothing reaches this process's own streams), with one exit-status enum and one
error funnel; the secret-line decision comes from the command tables."""

import importlib

import pytest

from conftest import in_process
from syncsh import cli
from syncsh.environment import Environment
from syncsh.status import ExitStatus


def test_every_command_is_a_front_end_module_with_run_and_parser():
    for name, module in {**cli.COMMANDS, "": cli.CLIENT}.items():
        front_end = importlib.import_module(module)
        assert callable(front_end.run) and callable(front_end.parser), name


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["demo", "--help"],
                                  ["demo", "init", "--help"], ["diff", "--help"],
                                  ["replay", "--help"], ["replicate", "--help"],
                                  ["record", "--help"], ["tap", "--help"]])
def test_help_and_version_go_to_the_environments_stdout(argv, capsys):
    result = in_process(*argv)
    assert result.returncode == ExitStatus.OK
    assert result.stdout.startswith((b"usage: syncsh", b"syncsh ")) and result.stderr == b""
    assert capsys.readouterr() == ("", "")          # not this process's streams


def test_one_shot_output_errors_and_statuses_reach_only_the_environment(capsys):
    ok = in_process("demo:cyrus-2", "-c", "quota user.dpc22")
    assert (ok.returncode, ok.stdout) == (ExitStatus.OK, b"* Sync Server v0.0 [EXPERIMENTAL]\n"
                                                         b"OK 100000\n")
    failed = in_process("demo:cyrus-2", "-c", "select user.nosuch")
    assert failed.returncode == ExitStatus.FAILED
    usage = in_process("demo:cyrus-2", "--no-such-option")
    assert (usage.returncode, usage.stderr) == (
        ExitStatus.ERROR, b"syncsh: unrecognized arguments: --no-such-option\n")
    piped = in_process("demo:cyrus-2", input=b"quota user.dpc22\n")
    assert piped.stdout.endswith(b"OK 100000\n")
    assert capsys.readouterr() == ("", "")


def test_a_bug_is_one_line_and_status_2_and_an_interrupt_130(monkeypatch):
    from syncsh.frontend import demo

    def broken(argv, env):
        raise ZeroDivisionError("x")
    monkeypatch.setattr(demo, "run", broken)
    result = in_process("demo", "path")
    assert result.returncode == ExitStatus.ERROR
    assert result.stderr.decode().count("\n") == 1 and "internal error" in result.stderr.decode()

    def interrupted(argv, env):
        raise KeyboardInterrupt
    monkeypatch.setattr(demo, "run", interrupted)
    result = in_process("demo", "path")
    assert (result.returncode, result.stderr) == (ExitStatus.INTERRUPTED,
                                                  b"syncsh: interrupted\n")


def test_server_text_in_an_error_is_escaped_on_the_environments_stderr():
    env = Environment.in_memory()
    cli.funnel(__import__("syncsh.errors").errors.SyncshError("evil \x1b]0;owned\x07"), env,
               debug=False)
    assert b"\x1b" not in env.captured()[1] and b"\x07" not in env.captured()[1]


def test_the_environment_answers_questions_from_its_own_stdin():
    env = Environment.in_memory(b"yes\n")
    assert env.ask("continue? ") == "yes"
    assert env.ask("again? ") is None                 # the end of input: no answer
    assert env.captured()[0] == b"continue? again? "


def test_no_color_in_the_environment_turns_colour_off():
    assert Environment.in_memory(environ={"NO_COLOR": "1"}).color is False
    assert Environment.in_memory(environ={}).color is None


def test_secret_words_are_those_the_command_tables_mark():
    from syncsh.private import is_secret, masked
    from syncsh.protocol import commands
    sensitive = {name for table in commands.TABLES.values()
                 for name, spec in table.items() if spec.sensitive}
    assert sensitive == {"AUTHENTICATE"}
    for name in sensitive:
        assert masked(f"{name} PLAIN AGFkbWluAHNlY3JldA==") == f"{name} PLAIN ***"
        assert masked(f"{name.lower()} plain x y") == f"{name.lower()} plain ***"
    assert masked("LOGIN admin hunter2") == "LOGIN ***"          # IMAP's, typed by habit
    for table in commands.TABLES.values():
        for name, spec in table.items():
            if not spec.sensitive:
                assert masked(f"{name} a b c") == f"{name} a b c" and not is_secret(name)


# ------------------------------------------------------------------ found by QA, fixed

def closed(command: str, *args: str):
    """syncsh run by a shell with one of its streams closed (`<&-`, `>&-`)."""
    import shlex
    import subprocess
    import sys
    line = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "syncsh", *args))
    return subprocess.run(["bash", "-c", f"{line} {command}"], capture_output=True,
                          timeout=60)


def test_closed_streams_are_one_line_or_nothing_never_a_bug(tmp_path):
    server = closed("<&-", "server", "--store", str(tmp_path / "s"))
    assert (server.returncode, server.stderr) == (2, b"syncsh: the server speaks on standard "
                                                     b"input and output: one is closed\n")
    script = closed("<&-", "demo:cyrus-2", "-f", "-")
    assert (script.returncode, script.stderr) == (2, b"syncsh: -f -: standard input is closed\n")
    quiet = closed(">&-", "demo", "path")
    assert (quiet.returncode, quiet.stderr) == (0, b"")
    record = closed("<&-", "record", str(tmp_path / "r.txt"), "demo:cyrus-2")
    assert record.returncode == 2 and b"not a terminal" in record.stderr
    assert not (tmp_path / "r.txt").exists()


def test_a_directory_the_system_refuses_is_one_line(monkeypatch):
    monkeypatch.setenv("SYNCSH_DATA_DIR", "/proc/no-such-dir")
    result = in_process("demo", "reset")
    assert (result.returncode, result.stderr) == (
        ExitStatus.ERROR, b"syncsh: No such file or directory: /proc/no-such-dir\n")


def test_record_checks_its_file_before_connecting(tmp_path):
    result = in_process("record", str(tmp_path / "missing" / "r.txt"), "demo:cyrus-2",
                        stdin_isatty=True)
    assert result.returncode == ExitStatus.ERROR and result.stdout == b""
    assert b"no directory" in result.stderr


def test_one_shot_upload_to_the_documented_dialect_is_refused_before_connecting(tmp_path):
    message = tmp_path / "m.eml"
    message.write_bytes(b"Subject: x\r\n\r\nhi\r\n")
    result = in_process("demo:cyrus-1", "-c", f"\\upload {message} user.dpc22")
    assert result.returncode == ExitStatus.ERROR and result.stdout == b""     # no banner
    assert result.stderr.startswith(b"syncsh: \\upload is for the modern dialect")


def test_replicate_takes_u_and_m_repeated_as_diff_takes_user(pair):
    master, replica = pair
    import sys

    def served(store):
        return f"exec:{sys.executable} -m syncsh server --store {store}"
    ends = (served(master), served(replica), "--user", "dpc22")
    assert in_process("diff", *ends).returncode == ExitStatus.FAILED
    result = in_process("replicate", "--master", master, "-s", served(replica),
                        "-u", "nosuch", "-u", "dpc22")
    assert result.returncode == ExitStatus.FAILED
    assert result.stderr == b"syncsh replicate: nosuch: no mailbox on either end: check the name\n"
    assert in_process("diff", *ends).returncode == ExitStatus.OK      # dpc22 was not dropped


def test_an_audit_names_the_end_it_cannot_reach():
    result = in_process("diff", "demo:cyrus-1", "exec:/bin/false", "--all-users",
                        "--format", "json")
    assert (result.returncode, result.stdout) == (ExitStatus.ERROR, b"")
    assert result.stderr == b"syncsh: the replica exec:/bin/false: the server closed the connection\n"


def test_console_diff_help_leaves_the_console_running_and_the_lock_check_reads_options(capsys):
    from test_transcripts import run_repl_keys
    status = run_repl_keys("\\diff demo:cyrus-1 . --help\nquota user.dpc22\n"
                           "user dpc22\n\\diff demo:cyrus-1 . --user=dpc22\n"
                           "\\diff demo:cyrus-1 . --mailbox user.dpc22.zzz\n\x04", "demo:cyrus-2")
    out, err = capsys.readouterr()
    assert status == 0
    assert "usage: syncsh diff" in out and "OK" in out.split("usage: syncsh diff", 1)[1]
    assert err.count("this session holds the lock on dpc22: ENDUSER first") == 2


def test_a_recording_of_a_named_target_names_its_url(tmp_path, capsys):
    import sys
    from syncsh import demo
    from test_transcripts import run_repl_keys
    store = demo.init(str(tmp_path / "pair"))[1]
    url = f"exec:{sys.executable} -m syncsh server --store {store}"
    config = tmp_path / "config.toml"
    config.write_text(f'[targets]\nex = "{url}"\n')
    path = tmp_path / "rec.txt"
    assert run_repl_keys("quota user.dpc22\n\x04", "record", str(path), "ex",
                         "--config", str(config)) == 0
    assert f"%host replica = {url}\n" in path.read_text()
    assert in_process("replay", "--trust-hosts", str(path)).returncode == 0


def test_the_environments_variables_decide_the_data_directory_and_the_password(tmp_path):
    """A command run over an Environment whose variables differ from this process's uses
    them: the demo pair and the audit log go to its data directory, its SYNCSH_PASSWORD is
    the password, and this process's data directory is left alone."""
    import os
    import sys
    from syncsh import demo
    from syncsh.connect import password_for
    from syncsh.options import target_options
    from syncsh.targets import parse_target
    theirs = tmp_path / "theirs"
    environ = dict(os.environ, SYNCSH_DATA_DIR=str(theirs), SYNCSH_PASSWORD="from-env")
    ours = os.environ["SYNCSH_DATA_DIR"]

    def run(*argv):
        env = Environment.in_memory(environ=environ)
        return cli.main(list(argv), env), env.captured()
    status, (out, _) = run("demo", "path")
    assert (status, out) == (0, f"{theirs}/demo\n".encode())
    assert run("demo:cyrus-2", "-c", "quota user.dpc22")[0] == 0
    assert (theirs / "demo" / "cyrus-2" / "store.sqlite3").exists()
    replica = demo.init(str(tmp_path / "pair"))[1]
    target = f"exec:{sys.executable} -m syncsh server --store {replica}"
    assert run(target, "--allow-writes", "-c", "user dpc22", "-c", "select user.dpc22",
               "-c", "setflags 4140 (audited)")[0] == 0
    assert "setflags 4140 (audited)" in (theirs / "audit.log").read_text().lower()
    assert not os.path.exists(ours)
    env = Environment.in_memory(environ=environ)
    from syncsh.frontend import client
    args = client.parser().parse_args(["csync://admin@127.0.0.1"])
    assert password_for(parse_target("csync://admin@127.0.0.1",
                                     options=target_options(args, env, interactive=False))) \
        == "from-env"
