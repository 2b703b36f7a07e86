"""The interactive console: a real terminal through tmux, a pseudo-terminal drawn by pyte
(pexpect; tests that only read the screen), and key-level tests through prompt_toolkit's
pipe input."""

import os
import shutil
import subprocess
import sys
import time

import pytest
from prompt_toolkit.document import Document

from conftest import ROOT, teed_server

from test_transcripts import run_repl_keys


def require(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is missing in CI (apt-get install {package})")
        pytest.skip(f"{tool} is not installed: sudo apt-get install {package}")


class Tmux:
    """A terminal of its own: its own tmux server (-L), so that test runs side by side
    never share one (a server exits under another run when its last session closes)."""

    def __init__(self, command: str, env: dict, width: int = 120, height: int = 50) -> None:
        self.name = f"syncsh-test-{os.getpid()}-{time.monotonic_ns()}"
        self.env = env
        subprocess.run([*self.tmux, "new-session", "-d", "-s", self.name, "-x", str(width),
                        "-y", str(height), command], check=True, env=env)

    @property
    def tmux(self) -> list[str]:
        return ["tmux", "-L", self.name]

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        # -J: a line the terminal wrapped is one line (a long path must not split a match)
        return subprocess.run([*self.tmux, "capture-pane", "-p", "-J", "-S", "-200", "-t",
                               self.name], capture_output=True, text=True).stdout

    def visible(self) -> str:
        """The screen as it stands (tmux keeps a screen cleared from its top in history)."""
        return subprocess.run([*self.tmux, "capture-pane", "-p", "-J", "-t", self.name],
                              capture_output=True, text=True).stdout

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


def test_in_a_real_terminal(tmp_path):
    require("tmux", "tmux")
    status = tmp_path / "status"
    env = dict(os.environ, SYNCSH_DATA_DIR=str(tmp_path / "data"), TERM="xterm-256color")
    # written whole under another name, then renamed: the test never reads it half-written
    term = Tmux(f"{sys.executable} -m syncsh --no-pager; echo $? > {status}.part; "
                f"mv {status}.part {status}; sleep 60", env)
    try:
        term.wait_for("(seed dialect)")                # the demo opens behind the prompt
        deadline = time.monotonic() + 10                # ... and the prompt is drawn again
        while "(seed dialect)\nsyncsh>" not in term.visible():
            assert time.monotonic() < deadline, term.visible()
            time.sleep(0.05)
        assert term.visible().startswith("demo:cyrus-2: * Sync Server")
        term.keys("user_so", "Tab")
        term.wait_for("syncsh> user_some")
        term.keys(" dpc22 user.dpc22", "Enter")
        screen = term.wait_for("OK User_Some finished")
        assert "      4089  0101003f4c56b07e56000023  \\answered" in screen     # aligned table
        assert "         1  000000000000000000000000" in screen
        term.keys("select user.d", "Tab")
        term.wait_for("syncsh> select user.dpc22")
        term.keys("Enter")
        term.wait_for("selected  uniqueid 6b98205c796c6c61")
        term.keys("setflags 41", "Tab")
        screen = term.wait_for("4140")
        assert "4118" in screen and "4131" in screen and "4136" in screen
        term.keys("Escape")
        term.keys("C-u")
        term.keys("C-d")
        deadline = time.monotonic() + 10
        while not status.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status.read_text().strip() == "0"
    finally:
        term.close()


def test_a_line_typed_before_the_prompt_appears_runs_on_the_open_session(tmp_path):
    """The demo's session opens just after the first prompt is drawn, but before any key is
    read: keys typed ahead (sent as the console starts) find it open, after its banner."""
    require("tmux", "tmux")
    env = dict(os.environ, SYNCSH_DATA_DIR=str(tmp_path / "data"), TERM="xterm-256color")
    term = Tmux(f"{sys.executable} -m syncsh --no-pager; sleep 60", env)
    try:
        term.keys("user_some dpc22 user.dpc22", "Enter")
        screen = term.wait_for("OK User_Some finished")
        assert "not connected" not in screen and "syncsh: " not in screen
        assert screen.index("(seed dialect)") < screen.index("mailbox       user.dpc22")
        assert screen.count("(seed dialect)") == 1
    finally:
        term.close()


def test_completion_knows_the_context():
    from syncsh.protocol.commands import LEGACY
    from syncsh.repl.completer import SyncCompleter
    from syncsh.session import Learnt
    from syncsh.model import Mailbox, Message

    learnt = Learnt()
    learnt.note(Mailbox("user.dpc22", "6b98205c796c6c61"))
    for uid in (1, 4089, 4140):
        learnt.note(Message(uid, "0101003f4c56b08c9d000026", ("hello",)))
    learnt.users.add("dpc22")

    class State:
        user = "dpc22"
        selected = "user.dpc22"

    from syncsh.repl.meta import META_COMMANDS
    completer = SyncCompleter(LEGACY, learnt, State(), META_COMMANDS)

    def texts(text):
        return [c.text for c in completer.get_completions(Document(text), None)]

    assert texts("user_so") == ["user_some"]
    assert "USER_SOME" in texts("USER_S") and "user_some" in texts("usr_sm")   # any case, fuzzy
    assert texts("select user.d") == ["user.dpc22"]
    assert texts("user_some d") == ["dpc22"]
    assert texts("user_some dpc22 user.") == ["user.dpc22"]
    assert texts("setflags 40") == ["4089"]
    assert texts("setflags 4140 (\\ans") == ["\\answered"]
    assert "hello" in texts("setflags 4140 (he")
    assert texts("setflags 4140 (hello) 41") == ["4140"]
    assert texts("expunge 1 4") == ["4089", "4140"]
    assert texts("\\he") == ["\\help"]
    # exact-prefix matches before fuzzy ones, in table order among them (pgcli's ranking)
    assert texts("sel")[0] == "select" and texts("setf")[0] == "setflags"
    assert texts("st")[:2] == ["status", "starttls"]
    assert texts("set")[:4] == ["setflags", "setseen", "setacl", "setquota"]
    assert "select" not in texts("set")[:4]


def test_a_password_never_enters_the_history(tmp_path, capsys):
    run_repl_keys("authenticate PLAIN AGFkbWluAHNlY3JldA==\nquota user.dpc22\n\x04", "demo:cyrus-2")
    history = open(os.path.join(os.environ["SYNCSH_DATA_DIR"], "history")).read()
    assert "quota user.dpc22" in history
    assert "AGFkbWluAHNlY3JldA==" not in history and "authenticate" not in history.lower()


def logging_target(tmp_path):
    from syncsh import demo
    demo.init(str(tmp_path / "p"))
    return teed_server(tmp_path, tmp_path / "p" / "cyrus-2")


def test_an_unbalanced_line_is_not_sent_but_continued(tmp_path, capsys):
    target, log = logging_target(tmp_path)
    run_repl_keys('user dpc22\nselect "user.dpc22\n\x04', target)
    sent = log.read_bytes()
    assert b"user dpc22\r\n" in sent and b"select" not in sent
    run_repl_keys("user dpc22\nselect user.dpc22\nstatus (\n)\nuser_some dpc22\n"
                  "upload_sieve x 1 {5}\n\x04", target)
    sent = log.read_bytes()
    assert b"status ()\r\n" in sent                   # joined into one line, then sent
    assert b"user_some dpc22\r\n" not in sent          # missing argument: refused
    assert b"{5}" not in sent
    err = capsys.readouterr().err
    assert "missing argument; syntax: USER_SOME user mailbox" in err


def test_a_list_continued_on_the_next_line_is_the_list_meant(tmp_path, capsys):
    target, log = logging_target(tmp_path)
    run_repl_keys("user dpc22\nselect user.dpc22\nsetflags 4140 (hello world\n)\n"
                  "status\n\x04", target, "--allow-writes")
    assert b"setflags 4140 (hello world)\r\n" in log.read_bytes()
    assert "4140  0101003f4c56b08c9d000026  hello world" in capsys.readouterr().out


def test_writes_ask_on_other_targets_and_are_audited(tmp_path, capsys):
    target, log = logging_target(tmp_path)
    run_repl_keys("user dpc22\naddsub user.dpc22.no\nn\naddsub user.dpc22.yes\ny\n\x04", target)
    sent = log.read_bytes()
    assert b"addsub user.dpc22.yes" in sent and b"addsub user.dpc22.no" not in sent
    audit = open(os.path.join(os.environ["SYNCSH_DATA_DIR"], "audit.log")).read()
    assert f"\t{target}\trepl\taddsub user.dpc22.yes\tOK Addsub completed\n" in audit
    assert "user.dpc22.no" not in audit
    assert capsys.readouterr().err.count("not sent: ADDSUB") == 1      # the refusal is said


def test_read_only_refuses_writes_with_no_way_to_confirm(tmp_path, capsys):
    target, log = logging_target(tmp_path)
    run_repl_keys("user dpc22\naddsub user.dpc22.x\ny\n\x04", "--read-only", target)
    assert b"addsub" not in log.read_bytes()
    assert "--read-only" in capsys.readouterr().err


def test_demo_writes_go_through_without_asking(capsys):
    run_repl_keys("user dpc22\naddsub user.dpc22.x\nlsub\n\x04", "demo:cyrus-2", "--format", "raw")
    assert "* user.dpc22.x" in capsys.readouterr().out


def test_a_pasted_document_snippet_runs_its_client_lines(capsys):
    snippet = ("\x1b[200~C: $ ssh -x cyrus-2 /usr/local/cyrus/bin/sync_server\n"
               "S: * Sync Server v0.0 [EXPERIMENTAL]\nC: user_some dpc22 user.dpc22\n"
               "S: ** 6b98205c796c6c61 user.dpc22 \\\nS:     \"dpc22 ...\" 4151 1062945305\n"
               "# Select a folder to work with\nC: select user.dpc22\n"
               "S: OK 6b98205c796c6c61 4151 1062945305\x1b[201~\n\x04")
    run_repl_keys(snippet, "demo:cyrus-2", "--format", "raw")
    captured = capsys.readouterr()
    assert "OK User_Some finished" in captured.out
    assert "OK 6b98205c796c6c61 4151 1062945305" in captured.out
    assert "not run (a shell line): $ ssh -x cyrus-2" in captured.err


def test_a_wrapped_client_line_and_annotations_typed_line_by_line(tmp_path, capsys):
    target, log = logging_target(tmp_path)
    snippet = ("\x1b[200~C: user_some dpc22 \\\nC:     user.dpc22\n"
               "S: OK User_Some finished\x1b[201~\n")
    run_repl_keys(snippet + "# an annotation typed on its own\n\x04", target, "--allow-writes")
    sent = log.read_bytes()
    assert b"user_some dpc22 user.dpc22\r\n" in sent          # one command, joined
    assert b"#" not in sent and b"user.dpc22\r\n" not in sent.replace(
        b"user_some dpc22 user.dpc22\r\n", b"")


def test_meta_commands(tmp_path, capsys):
    run_repl_keys("\\help setflags\n\\format json\nquota user.dpc22\n\\frob\n\\history\n\x04",
                  "demo:cyrus-2")
    captured = capsys.readouterr()
    assert "SETFLAGS uid flags [uid flags …]" in captured.out and "writes to the replica" in captured.out
    assert '"type": "done"' in captured.out and '"value": 100000' in captured.out
    assert "unknown meta-command \\frob" in captured.err
    assert "   1  quota user.dpc22" in captured.out


def test_a_dead_server_leaves_the_repl_alive(tmp_path, capsys):
    fake = tmp_path / "once.py"
    fake.write_text("import sys\nsys.stdout.write('* Sync Server v0.0 [EXPERIMENTAL]\\r\\n')\n"
                    "sys.stdout.flush()\nsys.stdin.readline()\n")
    status = run_repl_keys("user dpc22\nuser dpc22\n\\help\n\x04", f"exec:{sys.executable} {fake}")
    captured = capsys.readouterr()
    assert status == 0
    assert "the server closed the connection" in captured.err
    assert "not connected" in captured.err
    assert "USER_SOME" in captured.out              # \help still ran


def test_a_damaged_demo_store_is_one_line_and_the_prompt_stays(tmp_path, monkeypatch, capsys):
    """The demo opens behind the prompt: what goes wrong there is still said in one line."""
    monkeypatch.setenv("SYNCSH_DATA_DIR", str(tmp_path))
    assert run_repl_keys("\x04", "demo:cyrus-2") == 0             # builds the pair
    (tmp_path / "demo" / "cyrus-2" / "store.sqlite3").write_bytes(b"not a database\n" * 100)
    status = run_repl_keys("user_some dpc22 user.dpc22\n\\help\n\x04", "demo:cyrus-2")
    captured = capsys.readouterr()
    assert status == 0
    assert ("syncsh: demo:cyrus-2: cannot open the store in "
            f"{tmp_path / 'demo' / 'cyrus-2'}: file is not a database") in captured.err
    assert "Traceback" not in captured.err and "not connected" in captured.err
    assert "USER_SOME" in captured.out


def test_a_bug_of_ours_is_one_line_and_the_session_goes_on(monkeypatch, capsys):
    """Whatever breaks inside a command (here the renderer) costs that command only."""
    from syncsh.render import table

    def broken(self, event):
        raise RuntimeError("boom")
    monkeypatch.setattr(table.TableRenderer, "event", broken)
    keys = "user_some dpc22 user.dpc22\n\\help quota\n\\format raw\nquota user.dpc22\n\x04"
    status = run_repl_keys(keys, "demo:cyrus-2")
    captured = capsys.readouterr()
    assert status == 0
    assert "syncsh: internal error: RuntimeError: boom (--debug shows where)" in captured.err
    assert "Traceback" not in captured.err and "QUOTA root" in captured.out
    # the broken listing was read to its end: the next command gets its own reply
    assert captured.out.rstrip().endswith("OK 100000")


SLOW_SERVER = """import sys, time
sys.stdout.write('* Sync Server v0.0 [EXPERIMENTAL]\\r\\n'); sys.stdout.flush()
for n, line in enumerate(sys.stdin, 1):
    if line.startswith('quota'):
        open(sys.argv[1], 'w').close()      # the command is in flight: the test may interrupt
        time.sleep(2)
    sys.stdout.write(f'OK reply-{n} to {line.strip()}\\r\\n'); sys.stdout.flush()
"""


def test_ctrl_c_while_waiting_keeps_the_session_in_step(tmp_path):
    """Ctrl-C while a reply is on its way: the prompt comes back at once, and the late
    reply is read and dropped before the next command, which gets its own."""
    require("tmux", "tmux")
    server = tmp_path / "slow.py"
    server.write_text(SLOW_SERVER)
    env = dict(os.environ, SYNCSH_DATA_DIR=str(tmp_path / "data"), TERM="xterm-256color")
    arrived = tmp_path / "arrived"
    term = Tmux(f"{sys.executable} -m syncsh 'exec:{sys.executable} {server} {arrived}' "
                "--no-pager; sleep 60", env)
    try:
        term.wait_for("syncsh>")
        term.keys("quota user.x", "Enter")
        deadline = time.monotonic() + 10    # Ctrl-C once the server has the command
        while not arrived.exists():
            assert time.monotonic() < deadline, term.visible()
            time.sleep(0.05)
        term.keys("C-c")
        term.wait_for("(interrupted: the rest of the reply to QUOTA is read and dropped")
        term.keys("lsub", "Enter")
        screen = term.wait_for("OK reply-2 to lsub")
        assert "reply-1" not in screen and "still waiting" not in screen
    finally:
        term.close()


def test_a_mistyped_command_is_not_sent_and_the_command_meant_is_offered(tmp_path, capsys):
    target, log = logging_target(tmp_path)
    run_repl_keys("user dpc22\nselct user.dpc22\n\nSTAUS\nn\n\x04", target, "--allow-writes")
    sent = log.read_bytes()
    assert b"selct" not in sent and b"STAUS" not in sent
    err = capsys.readouterr().err
    assert "not sent: selct (did you mean select?)" in err
    assert "not sent: STAUS (did you mean STATUS?)" in err
    run_repl_keys("frobnicate\nselct user.dpc22\ny\n\x04", target, "--allow-writes")
    sent = log.read_bytes()
    assert b"frobnicate\r\n" in sent and b"selct user.dpc22\r\n" in sent   # as typed, if asked


def test_a_tall_reply_pages_through_less_as_psql_runs_it(tmp_path):
    require("tmux", "tmux")
    require("less", "less")
    env = {k: v for k, v in os.environ.items() if k != "LESS"}
    env.update(SYNCSH_DATA_DIR=str(tmp_path / "data"), TERM="xterm-256color", PAGER="less")
    term = Tmux(f"{sys.executable} -m syncsh", env, width=100, height=15)
    try:
        term.wait_for("syncsh>")
        term.keys("user_all dpc22", "Enter")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not term.visible().rstrip().endswith(":"):
            time.sleep(0.05)
        screen = term.visible()
        assert screen.rstrip().endswith(":"), screen          # less's prompt: it paged
        assert "ESC" not in screen and "^[" not in screen      # the table's escapes passed
        assert "UID  GUID" in screen
        term.keys("C-c")                      # less's own: the console stays, less too
        time.sleep(0.3)
        term.keys("q")
        term.keys("quota user.dpc22", "Enter")
        screen = term.wait_for("OK  quota limit 100000 KiB")
        time.sleep(0.3)
        assert term.visible().count("syncsh>") >= 1 and not term.visible().rstrip().endswith(":")
    finally:
        term.close()


@pytest.mark.parametrize("width", [80, 60])
def test_the_toolbar_keeps_what_matters_whole_at_any_width(tmp_path, width):
    # a screen is all it needs: a pseudo-terminal drawn by pyte, no multiplexer
    from pty_terminal import PtyTerminal
    env = dict(os.environ, SYNCSH_DATA_DIR=str(tmp_path / "data"), TERM="xterm-256color")
    term = PtyTerminal(f"{sys.executable} -m syncsh", env, width=width, height=20)
    try:
        term.wait_for("syncsh>")
        term.keys("user dpc22", "Enter")
        term.wait_for("OK Locked dpc22")
        term.keys("select user.dpc22", "Enter")
        term.wait_for("uniqueid")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "rtt" not in term.visible():
            time.sleep(0.05)
        bottom = term.visible().rstrip("\n").split("\n")[-1]
        assert "demo:cyrus-2" in bottom and "lock dpc22" in bottom
        assert len(bottom) <= width                            # one line: nothing wrapped
        if width == 80:
            assert "[user.dpc22]" in bottom                    # whole, never cut
        else:
            assert "[user.dp" not in bottom or "[user.dpc22]" in bottom
    finally:
        term.close()


def test_toolbar_segments_are_left_out_whole_by_priority():
    from syncsh.repl.toolbar import Segment, fitted
    parts = [Segment(0, "", " demo:cyrus-2 "), Segment(1, "", "seed "),
             Segment(1, "", " lock dpc22 3s "), Segment(2, "", " [user.dpc22]"),
             Segment(3, "", "  rtt 0.4ms"), Segment(5, "", "  * Sync Server v0.0")]
    texts = [text for _, text in fitted(parts, 80)]
    assert texts == [p.text for p in parts]
    texts = [text for _, text in fitted(parts, 50)]
    assert texts == [" demo:cyrus-2 ", "seed ", " lock dpc22 3s ", " [user.dpc22]"]
    texts = [text for _, text in fitted(parts, 30)]
    assert texts == [" demo:cyrus-2 ", "seed "]       # the lock does not fit whole: out


def test_help_teaches_each_argument_with_its_form_and_an_example(capsys):
    from syncsh.repl.meta import META_COMMANDS
    keys = "\\help setflags\n\\help upload\n\\help \\diff\n\\help get user\n" + \
        "".join(f"\\help {meta.name}\n" for meta in META_COMMANDS) + "\\help selct\n\x04"
    run_repl_keys(keys, "demo:cyrus-2")
    out, err = capsys.readouterr()
    assert "(one or more)" not in out and "uid flags: uid" not in out
    assert "    uid        a message UID (a number above 0)  e.g. 4140" in out
    assert "flags      a flag list in parentheses" in out
    assert "uid flags  more uid (flags) pairs, in ascending UID order; optional" in out
    assert "example: SETFLAGS 4140 (\\answered hello)" in out
    # UPLOAD's three item forms, each with its fields
    assert "SIMPLE guid|NIL uid internaldate sentdate last-updated (flags) {N+}message" in out
    assert "PARSED guid|NIL uid internaldate sentdate last-updated (flags) header-size" in out
    assert "COPY guid uid internaldate sentdate last-updated (flags)" in out
    assert "\\diff MASTER REPLICA [OPTIONS] | PAIR | OTHER" in out
    assert "example: \\diff demo:cyrus-1 . --user dpc22" in out
    for meta in META_COMMANDS:                  # every meta-command has its help
        assert f"{meta.syntax}\n  {meta.summary}" in out
    assert "no command 'get user' here" in err  # the documented dialect has no GET
    assert "no command 'selct' here; did you mean select?" in err


@pytest.mark.parametrize("dialect", ["seed", "csync"])
def test_every_commands_example_is_a_line_the_prompt_would_send(dialect):
    """The example in each command's help passes the same checks a typed line does (a
    literal, which cannot be typed, is the one exception) and names its own command."""
    from syncsh.protocol import commands as C
    from syncsh.repl.help import command_help
    table = C.table_for(dialect)
    for name, spec in table.items():
        lines = command_help(spec, dialect == "csync")
        example = lines[-1].split("example: ", 1)[1]
        found = C.lookup(table, example)          # (GET's example is one of its own)
        assert found is spec or found.name.startswith(name + " "), example
        if not any(arg.kind == C.LITERAL for arg in spec.args):
            assert C.check_line(table, example) is None, example
        # each argument with an example, but for the file list only \\upload can send
        assert all("e.g." in line for line in lines if line.startswith("    ") and
                   spec.args and not line.strip().startswith(("SIMPLE", "PARSED", "COPY",
                                                              "keys:"))
                   and "use \\upload" not in line)
        assert "e.g. %(…)" not in "\n".join(lines) and "e.g. (…)" not in "\n".join(lines)


def test_info_shows_the_banner_the_target_and_the_session(capsys):
    run_repl_keys("user dpc22\nselect user.dpc22\n\\info\n\\help target\n\x04", "demo:cyrus-2")
    out = capsys.readouterr().out
    assert "target      demo:cyrus-2  (demo; writes allowed)" in out
    assert "banner      * Sync Server v0.0 [EXPERIMENTAL]" in out
    assert "dialect     seed  version v0.0" in out
    assert "lock        dpc22 (held " in out and "selected    user.dpc22" in out
    assert "round trip  " in out and "format      table   pager auto   trace off" in out
    from syncsh.targets import FORMS       # \help target: every form, then the same state
    for form, _ in FORMS:
        assert f"\n  {form} " in out
    assert out.count("banner      * Sync Server") == 2


def test_meta_commands_say_what_they_changed_and_exit_points_to_reconnect(capsys):
    run_repl_keys("\\format raw\n\\format raw\n\\pager off\n\\pager\n\\frmat json\n"
                  "exit\nlsub\n\\reconnect\nquota user.dpc22\n\x04", "demo:cyrus-2")
    out, err = capsys.readouterr()
    assert "format raw (was table)" in err and "format raw (was the same)" in err
    assert "pager off: replies are never paged" in err
    assert "\\pager on|off|auto (now off)" in err
    assert "unknown meta-command \\frmat; did you mean \\format?" in err
    assert "session ended: \\reconnect opens demo:cyrus-2 again" in err
    assert "not connected: \\reconnect opens demo:cyrus-2 again" in err
    assert "\\connect TARGET" not in err.split("session ended")[1].split("\n")[0]
    assert out.rstrip().endswith("OK 100000")         # reconnected, raw lines


def test_pager_on_off_auto(tmp_path):
    """\\pager on: every reply through the pager; off: none; auto: a table taller than the
    window (a short one, or raw lines, are not paged)."""
    from pty_terminal import PtyTerminal
    marker = tmp_path / "paged"
    pager = tmp_path / "pager.py"
    pager.write_text("import sys\nopen(sys.argv[1], 'a').write('paged\\n')\n"
                     "sys.stdout.write(sys.stdin.read())\n")
    env = dict(os.environ, SYNCSH_DATA_DIR=str(tmp_path / "data"), TERM="xterm-256color",
               PAGER=f"{sys.executable} {pager} {marker}")
    term = PtyTerminal(f"{sys.executable} -m syncsh", env, width=100, height=15)

    def run(line: str, done: str) -> int:
        term.keys(line, "Enter")
        term.wait_for(done)
        time.sleep(0.3)
        term.keys("C-l")                    # a clean screen: the next wait sees its own reply
        term.wait_gone(done)
        return len(marker.read_text().splitlines()) if marker.exists() else 0
    try:
        term.wait_for("syncsh>")
        assert run("quota user.dpc22", "OK  quota limit") == 0          # short: not paged
        assert run("\\pager on", "pager on: every reply") == 0
        assert run("quota user.dpc22", "OK  quota limit") == 1          # on: paged anyway
        assert run("\\pager off", "pager off: replies are never paged") == 1
        assert run("user_all dpc22", "OK  quota limit") == 1            # off: tall, not paged
        assert run("\\pager auto", "pager auto") == 1
        assert run("user_all dpc22", "OK  quota limit") == 2            # auto: tall, paged
        assert run("\\format raw", "format raw (was table)") == 2
        assert run("user_all dpc22", "OK 100000") == 2                  # raw: not paged
    finally:
        term.close()


def test_completion_continuation_and_did_you_mean_on_a_terminal(tmp_path):
    """The issue's terminal walk: sel+Tab gives select, setf+Tab gives setflags, a flag
    list continued on the next line sets both flags, and selct is not sent but offers
    select."""
    from pty_terminal import PtyTerminal
    env = dict(os.environ, SYNCSH_DATA_DIR=str(tmp_path / "data"), TERM="xterm-256color")
    term = PtyTerminal(f"{sys.executable} -m syncsh --no-pager", env, width=120, height=40)
    try:
        term.wait_for("(seed dialect)")
        term.keys("user dpc22", "Enter")
        term.wait_for("OK Locked dpc22")
        term.keys("sel", "Tab")
        term.wait_for("syncsh> select")
        term.keys(" user.dpc22", "Enter")
        term.wait_for("OK  selected")
        term.keys("setf", "Tab")
        term.wait_for("syncsh> setflags")
        term.keys(" 4140 (hello world", "Enter")
        term.wait_for("(hello world\n...")            # the list goes on
        term.keys(")", "Enter")
        term.wait_for("OK Updated flags on 1 messages okay")
        term.keys("status", "Enter")
        screen = term.wait_for("OK  uidlast 4151")
        assert "      4140  0101003f4c56b08c9d000026  hello world" in screen
        term.keys("C-l")
        term.wait_gone("OK  uidlast")
        term.keys("selct user.dpc22", "Enter")
        term.wait_for("selct is not a command here; did you mean select? Send selct as "
                      "typed? [y/N]")
        term.keys("n", "Enter")
        screen = term.wait_for("not sent: selct (did you mean select?)")
        assert "BAD" not in screen and "Unrecognized" not in screen
    finally:
        term.close()


def test_meta_command_arguments_complete_from_the_meta_table():
    from syncsh.protocol.commands import CSYNC, LEGACY
    from syncsh.repl.meta import META_COMMANDS
    from syncsh.repl.completer import SyncCompleter
    from syncsh.session import Learnt

    class State:
        user = selected = None

    def texts(text, table=LEGACY):
        completer = SyncCompleter(table, Learnt(), State(), META_COMMANDS)
        return [c.text for c in completer.get_completions(Document(text), None)]
    assert texts("\\format ") == ["table", "raw", "json"] and texts("\\format j") == ["json"]
    assert texts("\\pager a") == ["auto"] and texts("\\trace o") == ["on", "off"]
    assert texts("\\record o") == ["off"]
    assert texts("\\help setf")[0] == "setflags" and texts("\\help \\d")[0] == "\\diff"
    assert texts("\\help tar")[0] == "target"
    assert texts("\\help ap", CSYNC)[0] == "apply"         # the dialect spoken
    assert texts("\\h upl")[:2] == ["upload", "upload_sieve"]      # \\h: \\help too
    assert texts("\\quit x") == [] and texts("\\format raw x") == []


# ---------------------------------------------------------------------- the Environment

def run_console(keys: str, env, *argv, target: str = "demo:cyrus-2") -> int:
    """The console run in process through main(argv, env), on an Environment of the
    test's, keys typed through prompt_toolkit's pipe input."""
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from syncsh.cli import main
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        with create_app_session(input=pipe, output=DummyOutput()):
            return main([*argv, target], env=env)


def console_env(tmp_path, **facts):
    from syncsh.environment import Environment
    environ = dict(os.environ, SYNCSH_DATA_DIR=str(tmp_path / "env-data"))
    environ.update(facts.pop("environ", {}))
    return Environment.in_memory(environ=environ, stdin_isatty=True, **facts)


def test_the_console_writes_only_where_its_environment_says(tmp_path, capsys):
    """Replies, meta-command output, errors, the trace and the history all go where the
    Environment says; nothing reaches the process's own streams."""
    env = console_env(tmp_path)
    status = run_console("\\help quota\n\\trace on\nquota user.dpc22\n\\frob\n\\history\n"
                         "status (\n)\n\x04", env)
    out, err = (data.decode() for data in env.captured())
    assert status == 0
    assert "QUOTA root\n" in out and "OK  quota limit 100000 KiB" in out    # help, reply
    assert "   1  quota user.dpc22" in out                                   # \history
    assert "trace on" in err and " C: quota user.dpc22" in err               # the trace
    assert " S: OK 100000" in err
    assert "unknown meta-command \\frob" in err
    assert "\x1b[" not in out                         # not a terminal: no colour
    assert capsys.readouterr() == ("", "")            # the process's streams: untouched
    history = (tmp_path / "env-data" / "history").read_text()
    assert "+quota user.dpc22" in history and "+status ()" in history


def test_the_environment_decides_colour_paging_and_the_pager(tmp_path):
    """A terminal per the Environment gets colour and the pager named in its variables
    (not the process's); NO_COLOR there takes the colour away."""
    marker = tmp_path / "paged"
    pager = tmp_path / "pager.py"
    pager.write_text("import sys\nopen(sys.argv[1], 'a').write('paged\\n')\n"
                     "sys.stdout.write(sys.stdin.read())\n")
    assert "PAGER" not in os.environ or os.environ["PAGER"] != str(pager)
    env = console_env(tmp_path, stdout_isatty=True,
                      environ={"PAGER": f"{sys.executable} {pager} {marker}"})
    run_console("\\pager on\nquota user.dpc22\n\x04", env)
    assert marker.read_text() == "paged\n"            # the Environment's $PAGER ran
    env = console_env(tmp_path, stdout_isatty=True)
    run_console("quota user.dpc22\n\x04", env, "--no-pager")
    assert "\x1b[" in env.captured()[0].decode()      # a terminal: coloured table
    env = console_env(tmp_path, stdout_isatty=True, environ={"NO_COLOR": "1"})
    run_console("quota user.dpc22\n\x04", env, "--no-pager")
    out = env.captured()[0].decode()
    assert "OK  quota limit 100000 KiB" in out and "\x1b[" not in out


# ---------------------------------------------------------------------- the meta table

def test_every_meta_command_is_completed_helped_and_dispatched_from_the_one_table(capsys):
    from syncsh.protocol.commands import LEGACY
    from syncsh.repl import help as helps
    from syncsh.repl.completer import SyncCompleter
    from syncsh.repl.meta import META_COMMANDS, find_meta, names_in_scripts, runs_in_scripts
    from syncsh.session import Learnt

    class State:
        user = selected = None
    completer = SyncCompleter(LEGACY, Learnt(), State())      # the table by default
    overview = "\n".join(helps.overview(LEGACY, META_COMMANDS))
    for meta in META_COMMANDS:
        offered = [c.text for c in completer.get_completions(Document(meta.name[:3]), None)]
        assert meta.name in offered, (meta.name, offered)
        assert f"  {meta.name} " in overview and meta.summary in overview
        assert helps.topic_help(LEGACY, meta.name, META_COMMANDS)[:2] == \
            [meta.syntax, f"  {meta.summary}"]
        assert all(find_meta(word) is meta for word in (meta.name, *meta.aliases))
        assert callable(meta.handler)
        for choice in meta.choices:
            assert [c.text for c in completer.get_completions(
                Document(f"{meta.name} {choice}"), None)][0] == choice
    assert names_in_scripts() == ("\\upload",)
    assert runs_in_scripts("\\upload") and not runs_in_scripts("\\quit")
    assert not runs_in_scripts("\\diff") and not runs_in_scripts("\\nosuch")


def test_a_meta_command_added_to_the_table_is_dispatched_helped_and_completed(monkeypatch,
                                                                              capsys):
    """Nothing else lists meta-commands: one more entry in the table is run (by name and
    alias), helped, listed and completed, with no other change."""
    from syncsh.repl import meta as metas
    from syncsh.repl.completer import SyncCompleter
    from syncsh.session import Learnt
    calls = []

    def frob(console, call):
        calls.append((call.word, call.rest))
        console.say(f"frobbed {call.rest}")
    extra = metas.MetaCommand("\\frobnicate", "WHAT", "frob something", frob,
                              ("WHAT: what to frob",), ("\\frobnicate it",), ("\\fr",),
                              choices=("it", "them"))
    monkeypatch.setattr(metas, "META_COMMANDS", metas.META_COMMANDS + (extra,))
    run_repl_keys("\\frobnicate it\n\\fr them\n\\help\n\\help \\frobnicate\n\\help frobnicate\n"
                  "\\frobnicat\n\x04", "demo:cyrus-2")
    out, err = capsys.readouterr()
    assert calls == [("\\frobnicate", "it"), ("\\fr", "them")]
    assert "frobbed it" in out and "frobbed them" in out
    assert "  \\frobnicate  " in out and "frob something" in out           # the overview
    assert out.count("\\frobnicate WHAT\n  frob something\n  also: \\fr\n"
                     "  WHAT: what to frob\n  example: \\frobnicate it") == 2
    assert "unknown meta-command \\frobnicat; did you mean \\frobnicate?" in err

    class State:
        user = selected = None
    completer = SyncCompleter(lambda: {}, Learnt(), State())
    assert [c.text for c in completer.get_completions(Document("\\frob"), None)] == \
        ["\\frobnicate"]
    assert [c.text for c in completer.get_completions(Document("\\fr t"), None)][0] == "them"


# ---------------------------------------------------------------------- QA: a new user's pass

def test_a_meta_command_given_arguments_it_does_not_take_does_nothing(tmp_path):
    """\\quit now is a typo away from a lost lock: one line, and nothing happens (the
    same for every meta-command that takes no arguments); \\q alone still leaves."""
    from pty_terminal import PtyTerminal
    env = dict(os.environ, SYNCSH_DATA_DIR=str(tmp_path / "data"), TERM="xterm-256color")
    term = PtyTerminal(f"{sys.executable} -m syncsh --no-pager; echo exited-$?; sleep 60",
                       env, width=120, height=40)
    try:
        term.wait_for("(seed dialect)")
        term.keys("user dpc22", "Enter")
        term.wait_for("OK Locked dpc22")
        term.keys("\\quit now", "Enter")
        term.wait_for("syncsh: \\quit takes no arguments; nothing done (\\quit alone)")
        term.keys("\\reconnect demo:cyrus-1", "Enter")
        term.wait_for("syncsh: \\reconnect takes no arguments; nothing done")
        term.keys("\\info", "Enter")
        screen = term.wait_for("lock        dpc22 (held")       # still here, lock held
        assert "exited-" not in screen and "previous session ended" not in screen
        term.keys("\\q", "Enter")
        term.wait_for("exited-0")
    finally:
        term.close()


def test_a_multi_line_entry_is_one_history_entry_as_typed(tmp_path):
    """A flag list continued on the next line is recalled (Up) as the one command it was,
    never as its pieces; the history file holds it once."""
    from pty_terminal import PtyTerminal
    data = tmp_path / "data"
    env = dict(os.environ, SYNCSH_DATA_DIR=str(data), TERM="xterm-256color")
    term = PtyTerminal(f"{sys.executable} -m syncsh --no-pager", env, width=120, height=40)
    try:
        term.wait_for("(seed dialect)")
        term.keys("user dpc22", "Enter")
        term.wait_for("OK Locked dpc22")
        term.keys("select user.dpc22", "Enter")
        term.wait_for("OK  selected")
        term.keys("setflags 4140 (hello", "Enter")
        term.wait_for("(hello\n...")
        term.keys("world)", "Enter")
        term.wait_for("OK Updated flags on 1 messages okay")
        term.keys("C-l")
        term.wait_gone("OK Updated flags")
        term.keys("Up")
        term.wait_for("syncsh> setflags 4140 (hello world)")
        term.keys("Up")
        term.wait_for("syncsh> select user.dpc22")            # the entry before: no piece
        assert "world)\n" not in term.visible()
    finally:
        term.close()
    entries = [line[1:] for line in (data / "history").read_text().splitlines()
               if line.startswith("+")]
    assert entries == ["user dpc22", "select user.dpc22", "setflags 4140 (hello world)"]


def test_upload_says_what_is_wrong_before_asking_to_send(tmp_path, capsys):
    """On a target where writes are confirmed, an \\upload that cannot go (here: the
    documented dialect, a missing file) is said at once: no question is asked (the next
    line, \\info, is run, not taken as the answer) and nothing is sent."""
    target, log = logging_target(tmp_path)
    run_repl_keys("\\upload /nonexistent/m.eml user.dpc22\n\\info\n\x04", target)
    out, err = capsys.readouterr()
    assert "\\upload is for the modern dialect" in err
    assert "not sent" not in err and "target      " in out
    assert b"GET" not in log.read_bytes() and b"APPLY" not in log.read_bytes()


def test_upload_of_a_missing_file_is_said_before_any_question_on_cyrus(cyrus, tmp_path):
    """Against a real Cyrus, on a terminal: a missing file, then a missing mailbox, are one
    line each and ask nothing; a good upload still asks, and goes once confirmed."""
    from pty_terminal import PtyTerminal
    from test_csync import fresh_user, targets
    user = fresh_user(cyrus, 1)
    message = tmp_path / "m.eml"
    message.write_bytes(b"From: qa@example.org\r\nSubject: upload\r\n\r\nhello\r\n")
    env = dict(os.environ, SYNCSH_DATA_DIR=str(tmp_path / "data"), TERM="xterm-256color")
    term = PtyTerminal(f"{sys.executable} -m syncsh {targets(cyrus)['unix']} --no-pager",
                       env, width=160, height=40)
    try:
        term.wait_for("syncsh>")
        term.keys(f"\\upload {tmp_path}/missing.eml user.{user}", "Enter")
        screen = term.wait_for(f"syncsh: cannot read {tmp_path}/missing.eml: No such file")
        assert "[y/N]" not in screen
        term.keys(f"\\upload {message} user.{user}.nosuch", "Enter")
        screen = term.wait_for(f"the replica has no mailbox user.{user}.nosuch")
        assert "[y/N]" not in screen
        term.keys(f"\\upload {message} user.{user}", "Enter")
        term.wait_for("\\upload changes unix:")
        term.keys("y", "Enter")
        term.wait_for(f"uploaded {message} to user.{user} as UID 2")
    finally:
        term.close()


def test_a_pasted_snippet_with_a_password_never_enters_the_history(capsys):
    """A paste is one history entry: one with a password on any of its lines (a
    document's C: line, or a plain line) is left out whole."""
    run_repl_keys("\x1b[200~C: quota user.dpc22\nC: AUTHENTICATE PLAIN AGFkbWluAHNlY3JldA=="
                  "\x1b[201~\n\x1b[200~quota user.dpc22\nlogin admin hunter2\x1b[201~\n"
                  "\x1b[200~quota user.dpc22\nlsub\x1b[201~\n\x04", "demo:cyrus-2")
    history = open(os.path.join(os.environ["SYNCSH_DATA_DIR"], "history")).read()
    assert "AGFkbWluAHNlY3JldA==" not in history and "hunter2" not in history
    assert "+quota user.dpc22\n+lsub\n" in history          # a harmless paste is kept
