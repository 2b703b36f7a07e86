"""One exit status per outcome whatever --debug says (it only adds the traceback), and
script lines (-f FILE, stdin) trimmed as the REPL trims what is typed."""

import sys

import pytest

from conftest import syncsh
from test_csync import password_env

SERVER = f"{sys.executable} -m syncsh server --store"


def outcomes(*args, env=None, input=None):
    plain = syncsh(*args, env=env, input=input)
    debug = syncsh(*args, "--debug", env=env, input=input)
    return plain, debug


def test_a_failed_login_is_2_with_or_without_debug(cyrus):
    target = f"csync://admin@127.0.0.1:{cyrus.replica_port}"
    plain, debug = outcomes(target, "-c", "NOOP", env=password_env("wrong password"))
    assert plain.returncode == debug.returncode == 2
    assert plain.stderr.decode().splitlines() == [debug.stderr.decode().splitlines()[-1]]
    assert b"Traceback" in debug.stderr and b"Traceback" not in plain.stderr


@pytest.mark.parametrize("args, status", [
    (["exec:/nonexistent/program", "-c", "NOOP"], 2),                 # connection error
    (["demo:cyrus-2", "-c", "select nowhere"], 1),                    # a NO
    (["demo:cyrus-2", "-c", "quota user.dpc22"], 0),
    (["demo:cyrus-2", "--timeout", "x", "-c", "NOOP"], 2),            # usage error
])
def test_every_outcome_keeps_its_status_under_debug(args, status):
    plain, debug = outcomes(*args)
    assert plain.returncode == debug.returncode == status, (plain.stderr, debug.stderr)


def test_script_lines_are_trimmed_as_the_repl_trims_them(tmp_path, pair):
    script = tmp_path / "script.txt"
    script.write_text("   quota user.dpc22  \n\tquota user.dpc22\t\r\n  # a comment\n")
    target = f"exec:{SERVER} {pair[1]}"
    for args, stdin in ((["-f", str(script)], None), (["-f", "-"], script.read_bytes()),
                        ([], script.read_bytes())):
        proc = syncsh(target, *args, input=stdin)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines()[1:] == [b"OK 100000", b"OK 100000"], proc.stdout
