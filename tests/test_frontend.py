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
