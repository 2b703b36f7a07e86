"""Bytes from a server never drive the terminal: a fake server puts sequences that clear the
screen and set the window title into its banner, a mailbox name, a flag, a NO text and its
stderr.  On a real terminal (tmux) they show escaped, in tables, raw lines, the trace and
the pager; to a file, raw output keeps the very bytes."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT, syncsh
from test_repl import Tmux, require

import hostile_server
from syncsh.printable import printable

SERVER = os.path.join(ROOT, "tests", "hostile_server.py")
TARGET = f"exec:{sys.executable} {SERVER} escapes"


def test_printable_escapes_controls_and_keeps_text():
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("tab\there") == "tab\there"
    assert printable("bell\x07 del\x7f c1\x9b nul\x00 cr\r lf\n") == \
        "bell\\x07 del\\x7f c1\\x9b nul\\x00 cr\\x0d lf\\x0a"
    assert printable("line one\r\nline two\n", block=True) == "line one\nline two\n"
    assert printable("bad byte \udc9b") == "bad byte \\x9b"       # not UTF-8: shown as a byte
    assert printable("user.dpc22 Ünïcode ✓") == "user.dpc22 Ünïcode ✓"


def title(term: Tmux) -> str:
    return subprocess.run([*term.tmux, "display-message", "-p", "-t", term.name, "#{pane_title}"],
                          capture_output=True, text=True).stdout


def test_one_shot_table_and_raw_on_a_terminal_show_escapes(tmp_path):
    require("tmux", "tmux")
    env = dict(os.environ, SYNCSH_DATA_DIR=str(tmp_path / "data"), TERM="xterm-256color")
    for fmt in ("table", "raw"):
        term = Tmux(f"{sys.executable} -m syncsh '{TARGET}' --allow-writes --no-pager "
                    f"--format {fmt} -c 'user_some dpc22 user.x' -c 'noop'; echo END; sleep 60",
                    env)
        try:
            screen = term.wait_for("END")
            assert "\\x1b]0;PWNED-BANNER\\x07\\x1b[2J" in screen, screen
            assert "user.\\x1b[2Jevil\\x1b]0;PWNED-NAME\\x07" in screen
            assert "$\\x1b]0;PWNED-FLAG\\x07" in screen
            assert "\\x1b[2J\\x1b]0;PWNED-NO\\x07 nope" in screen
            assert "starting \\x1b]0;PWNED-STDERR\\x07" in screen      # the server's stderr
            assert "PWNED" not in title(term)
        finally:
            term.close()


def test_repl_table_pager_trace_and_raw_show_escapes(tmp_path):
    require("tmux", "tmux")
    require("less", "less")
    env = dict(os.environ, SYNCSH_DATA_DIR=str(tmp_path / "data"), TERM="xterm-256color",
               PAGER="less -R -X")
    term = Tmux(f"{sys.executable} -m syncsh '{TARGET}' --allow-writes; sleep 60", env)
    try:
        term.wait_for("syncsh>")
        assert "\\x1b]0;PWNED-BANNER\\x07\\x1b[2J" in term.screen()
        # 60 rows on a 50-line terminal: the pager (less -R passes escapes through) shows them
        term.keys("user_some dpc22 user.x", "Enter")
        screen = term.wait_for("$\\x1b]0;PWNED-FLAG\\x07")
        assert "user.\\x1b[2Jevil" in screen
        term.keys("G")
        term.wait_for("OK User_Some finished")
        term.keys("q")
        term.wait_for("syncsh> ", timeout=10)
        term.keys("\\trace on", "Enter")
        term.keys("noop", "Enter")
        screen = term.wait_for("S: NO \\x1b[2J\\x1b]0;PWNED-NO\\x07 nope")
        term.keys("\\trace off", "Enter")
        term.keys("\\format raw", "Enter")
        term.keys("user_some dpc22 user.x", "Enter")
        term.wait_for('** 6b98205c796c6c61 "user.\\x1b[2Jevil\\x1b]0;PWNED-NAME\\x07"')
        term.wait_for("* 60 0101003f4c56b07e5600003c ($\\x1b]0;PWNED-FLAG\\x07 \\Seen)")
        assert "PWNED" not in title(term)
    finally:
        term.close()


def test_raw_output_to_a_file_holds_the_original_bytes(tmp_path):
    out = tmp_path / "raw.out"
    with open(out, "wb") as handle:
        done = subprocess.run([sys.executable, "-m", "syncsh", TARGET, "--allow-writes",
                               "--format", "raw", "-c", "user_some dpc22 user.x"],
                              stdout=handle, stderr=subprocess.PIPE, timeout=60)
    assert done.returncode == 0, done.stderr
    data = out.read_bytes()
    assert data.startswith(hostile_server.ESC_BANNER + b"\n")
    assert b'"' + hostile_server.ESC_NAME + b'"' in data
    assert b"(" + hostile_server.ESC_FLAG + b" \\Seen)\n" in data


def test_json_escapes_every_control_character(tmp_path):
    done = syncsh(TARGET, "--allow-writes", "--format", "json", "-c", "user_some dpc22 user.x",
                  "-c", "noop")
    assert b"\x1b" not in done.stdout and b"\x07" not in done.stdout
    assert b"\\u001b[2J" in done.stdout
