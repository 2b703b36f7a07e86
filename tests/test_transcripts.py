"""Transcripts: replay, reports, --update, lint, record."""

import glob
import os
import sys
import xml.etree.ElementTree as ET

import pytest

from conftest import ROOT, SEED, keys_from, syncsh

TRANSCRIPTS = sorted(glob.glob(os.path.join(ROOT, "transcripts", "*.txt")))


def test_every_transcript_replays_green():
    proc = syncsh("replay", *TRANSCRIPTS)
    assert proc.returncode == 0, proc.stdout.decode()
    assert f"{len(TRANSCRIPTS)} transcript(s): {len(TRANSCRIPTS)} passed" in proc.stdout.decode()


def test_the_transcripts_cover_every_command_of_the_dialect():
    from syncsh.protocol.commands import LEGACY
    from syncsh.transcript.parse import parse
    used = set()
    for path in TRANSCRIPTS:
        for step in parse(path).steps:
            if not step.is_shell:
                used.add(step.command.text.split(" ", 1)[0].split("\r\n")[0].upper())
    assert set(LEGACY) - used == set()


def test_an_altered_line_fails_with_a_diff_that_names_it(tmp_path):
    source = open(TRANSCRIPTS[0]).read().split("\n")
    number = next(i for i, line in enumerate(source, 1) if line.startswith("S: OK Expunge"))
    source[number - 1] = "S: OK Expunge Completed"
    altered = tmp_path / "altered.txt"
    altered.write_text("\n".join(source))
    proc = syncsh("replay", str(altered))
    out = proc.stdout.decode()
    assert proc.returncode == 1
    assert f"-OK Expunge Completed    [{altered}:{number}]" in out
    assert "+OK Expunge Complete" in out
    assert "failed  line" in out


def test_junit_report(tmp_path):
    proc = syncsh("replay", "--format", "junit", TRANSCRIPTS[0])
    root = ET.fromstring(proc.stdout)
    cases = root.findall(".//testcase")
    assert len(cases) >= 8 and not root.findall(".//failure")


def test_stop_on_fail_and_update_keep_annotations(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("# a note\n%setup demo\nC: $ ssh cyrus-2 sync_server\n"
                    "S: wrong banner\nC: quota user.dpc22\n# between\nS: OK 1\n"
                    "C: quota user.nobody\n")
    proc = syncsh("replay", "--stop-on-fail", str(path))
    assert proc.returncode == 1 and proc.stdout.decode().count("failed  line") == 1
    proc = syncsh("replay", "--update", str(path))
    assert proc.returncode == 1                      # steps failed, rewritten or not
    assert path.read_text() == ("# a note\n%setup demo\nC: $ ssh cyrus-2 sync_server\n"
                                "S: * Sync Server v0.0 [EXPERIMENTAL]\nC: quota user.dpc22\n"
                                "# between\nS: OK 100000\nC: quota user.nobody\nS: OK 0\n")
    assert syncsh("replay", str(path)).returncode == 0


def test_update_changes_only_the_wrong_line(tmp_path):
    path = tmp_path / "t.txt"
    text = ("C: $ ssh cyrus-2 x\nS: * Sync Server ...\nC: user_some dpc22 user.dpc22\n"
            "S: ** {{uid}} user.dpc22 ...\nS: ...\nS: * 4140 {{guid}} ()\n"
            "S: OK User_Some finished\nC: select user.dpc22\nS: OK {{uid}} 4150 ...\n"
            "C: quota user.dpc22\nS: OK 10000\\\nS: 0\n")
    path.write_text(text)
    proc = syncsh("replay", "--update", str(path))
    assert proc.returncode == 1, proc.stdout
    after = path.read_text().split("\n")
    before = text.split("\n")
    changed = [(b, a) for b, a in zip(before, after) if b != a]
    # the select's reply and the quota's wrapped one change; every matcher stays as written
    assert changed[0] == ("S: OK {{uid}} 4150 ...", "S: OK 6b98205c796c6c61 4151 1062945305")
    assert after[:8] == before[:8]
    assert after[-2:] == ["S: OK 100000", ""] and len(after) == len(before) - 1
    assert syncsh("replay", str(path)).returncode == 0


def test_update_keeps_a_wrapped_line_that_still_matches(tmp_path):
    path = tmp_path / "t.txt"
    text = ("C: $ ssh cyrus-2 x\nS: * Sync Server v0.0 \\\nS: [EXPERIMENTAL]\n"
            "C: quota user.dpc22\nS: * wrong\nS: OK 100000\n")
    path.write_text(text)
    assert syncsh("replay", "--update", str(path)).returncode == 1
    assert path.read_text() == text.replace("S: * wrong\n", "")


def test_cram_matchers(tmp_path):
    path = tmp_path / "t.txt"
    good = ("C: $ ssh cyrus-2 x\nS: \\* Sync Server v[0-9.]+ \\[EXPERIMENTAL\\] (re)\n"
            "C: quota user.dpc22\nS: OK 1*0 (glob)\n"
            "C: quota user.dpc22\nS: OK 10000? (glob)\n"
            "C: quota user.dpc22\nS: OK \\x31\\x30\\x30000 (esc)\n")
    path.write_text(good)
    proc = syncsh("replay", str(path))
    assert proc.returncode == 0, proc.stdout
    assert syncsh("replay", "--lint", str(path)).returncode == 0
    for bad in ("S: OK [a-z]+ (re)", "S: OK 2* (glob)", "S: OK 10000\\t0 (esc)",
                "S: OK 100000? (glob)"):
        path.write_text(good.replace("S: OK 1*0 (glob)", bad))
        proc = syncsh("replay", str(path))
        assert proc.returncode == 1, bad
        assert f"-{bad[3:]}" in proc.stdout.decode()


def test_esc_shows_control_bytes_and_update_writes_them_so(tmp_path):
    from syncsh.transcript.match import Expected, escape, line_match
    actual = "* 1 \x1b]0;title\x07 \x00 a\tb \udcff"
    written = escape(actual)
    assert written == "* 1 \\x1b]0;title\\x07 \\x00 a\\tb \\xff"
    assert line_match(Expected(written + " (esc)"), actual, {}) == {}
    assert line_match(Expected(written + " (esc)"), actual.replace("\t", " "), {}) is None
    from syncsh.transcript.update import spelled
    assert spelled(actual) == f"S: {written} (esc)"
    assert spelled("OK fine") == "S: OK fine"
    assert spelled("OK x (re)") == "S: OK x (re) (esc)"     # literal text, not a matcher


def test_exact_makes_whitespace_significant(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("C: $ ssh cyrus-2 x\nS: * Sync Server ...\n"
                    "C: quota user.dpc22\nS: OK   100000\n%exact\n"
                    "C: quota user.dpc22\nS: OK 100000\n")
    assert syncsh("replay", str(path)).returncode == 0     # tolerant before %exact
    path.write_text(path.read_text() + "C: quota user.dpc22\nS: OK  100000\n")
    proc = syncsh("replay", str(path))
    assert proc.returncode == 1
    assert "-OK  100000" in proc.stdout.decode() and "+OK 100000" in proc.stdout.decode()


def test_lint_names_a_regular_expression_that_does_not_compile(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("C: $ ssh cyrus-2 x\nS: * Sync Server ...\n"
                    "C: quota user.dpc22\nS: OK (unclosed (re)\n")
    proc = syncsh("replay", "--lint", str(path))
    assert proc.returncode == 1
    assert proc.stdout.decode().startswith(f"{path}:4: a (re) line that does not compile:")


def test_matchers_elision_and_captures(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("C: $ ssh cyrus-2 x\nS: * Sync Server ...\nC: user_some dpc22 user.dpc22\n"
                    "S: ** {{uid}} user.dpc22 ...\nS: ...\nS: * 4140 {{guid}} ()\n"
                    "S: OK User_Some finished\nC: select user.dpc22\nS: OK {{uid}} 4151 ...\n"
                    "C: user_some dpc22 user.dpc22\nS: ** {{uid}} ...\nS: ...\n"
                    "S: * 4140 {{guid}} ()\nS: OK User_Some finished\n")
    assert syncsh("replay", str(path)).returncode == 0
    path.write_text(path.read_text().replace("S: OK {{uid}} 4151 ...", "S: OK {{guid}} 4151 ..."))
    assert syncsh("replay", str(path)).returncode == 1


@pytest.mark.parametrize("body, message, options", [
    ("C: $ ssh cyrus-2 x\nC: $ ls -l\n", "cannot replay the shell line `ls -l`", []),
    ("C: $ ssh elsewhere x\n", "no target for host 'elsewhere'", []),
    ("C: quota x\n", "before any `$ ssh`", []),
    ("%host r = exec:" + sys.executable + " -m syncsh server --store {store}\n"
     "C: $ ssh r x\nS: ...\nC: user dpc22\nS: ...\nC: addsub user.dpc22.x\n",
     "t.txt:1: %host r = exec:", []),
    ("%host r = exec:" + sys.executable + " -m syncsh server --store {store}\n"
     "C: $ ssh r x\nS: ...\nC: user dpc22\nS: ...\nC: addsub user.dpc22.x\n",
     "t.txt:6: refused: ADDSUB writes to exec:", ["--trust-hosts"]),
])
def test_steps_that_cannot_be_replayed_exit_2(tmp_path, body, message, options):
    path = tmp_path / "t.txt"
    path.write_text(body.replace("{store}", str(tmp_path / "store")))
    proc = syncsh("replay", *options, str(path))
    assert proc.returncode == 2
    assert message in proc.stdout.decode()


def test_host_mapping_reaches_another_target(tmp_path):
    from syncsh import demo
    demo.init(str(tmp_path / "p"))
    target = f"exec:{sys.executable} -m syncsh server --store {tmp_path / 'p' / 'cyrus-2'} -v -v"
    proc = syncsh("replay", "--host", f"cyrus-2={target}", TRANSCRIPTS[0])
    assert proc.returncode == 2                    # its writes are refused ...
    assert b"replay it with --allow-writes" in proc.stdout
    proc = syncsh("replay", "--allow-writes", "--host", f"cyrus-2={target}", TRANSCRIPTS[0])
    assert proc.returncode == 0, proc.stdout.decode()   # ... and go through when allowed


def test_lint_names_the_documents_mislabelled_line():
    proc = syncsh("replay", "--lint", SEED)
    lines = proc.stdout.decode().splitlines()
    assert proc.returncode == 1
    doc = open(SEED).read().split("\n")
    number = next(i for i, line in enumerate(doc, 1) if line.strip() == "S: user_some dpc22 user.dpc22")
    assert lines == [f"{SEED}:{number}: a client line labelled S: (user_some is a command; "
                     "write it as C:)"]


def test_lint_of_our_transcripts_is_clean():
    proc = syncsh("replay", "--lint", *TRANSCRIPTS)
    assert proc.returncode == 0 and proc.stdout == b""


def test_lint_finds_impossible_replies_and_unbalanced_lines(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("C: $ ssh cyrus-2 x\nS: * Sync Server v0.0 [EXPERIMENTAL]\n"
                    "C: select user.dpc22\nS: ** 1 user.dpc22 x 1 1\nS: OK 1 2 3\nS: * 1 2 ()\n"
                    "C: setflags 1 (a\nS: OK x\nC: status\nS: * 1 0000 (a\nS: OK 1\n")
    proc = syncsh("replay", "--lint", str(path))
    out = proc.stdout.decode()
    assert proc.returncode == 1
    assert f"{path}:4: SELECT does not answer with ** lines" in out
    assert f"{path}:6: a reply line after the final OK" in out
    assert f"{path}:7: unbalanced client line: an open '('" in out
    assert f"{path}:10: unbalanced server line: an open '('" in out


def test_unreadable_transcripts_are_errors(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("S: orphan\n")
    assert syncsh("replay", str(path)).returncode == 2
    assert syncsh("replay", str(tmp_path / "missing.txt")).returncode == 2
    path.write_text("%frobnicate\n")
    proc = syncsh("replay", str(path))
    assert proc.returncode == 2 and b"unknown directive %frobnicate" in proc.stdout
    path.write_bytes(b"%\xd1\x07junk\n")
    proc = syncsh("replay", str(path))
    assert proc.returncode == 2 and b"unknown directive %\\xd1\\x07junk\n" in proc.stdout
    for not_a_transcript in (b"", b"[project]\nname = 'x'\n", b"Title\n=====\n\n::\n\n  hi\n"):
        path.write_bytes(not_a_transcript)        # a wrong file must not pass as empty
        proc = syncsh("replay", str(path))
        assert proc.returncode == 2 and b"no transcript here: no C: line" in proc.stdout


def run_repl_keys(keys: str, *argv):
    from prompt_toolkit.input import create_pipe_input
    from syncsh.cli import main
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        with keys_from(pipe):
            return main(list(argv))


def test_a_session_recorded_in_the_repl_replays_green(tmp_path, capsys):
    path = tmp_path / "rec.txt"
    status = run_repl_keys(f"\\record {path}\nuser_some dpc22 user.dpc22\nselect user.dpc22\n"
                           "setflags 4140 (seen-in-test)\nstatus\n\\record off\n\x04",
                           "demo:cyrus-2")
    assert status == 0
    text = path.read_text()
    assert "%host cyrus-2 = demo:cyrus-2" in text and "C: $ ssh cyrus-2 sync_server" in text
    assert "S: * 4140 0101003f4c56b08c9d000026 (seen-in-test)" in text
    proc = syncsh("replay", str(path))
    assert proc.returncode == 0, proc.stdout.decode()


def test_syncsh_record_command(tmp_path, capsys):
    path = tmp_path / "rec.txt"
    status = run_repl_keys("quota user.dpc22\n\x04", "record", str(path), "demo:cyrus-2")
    assert status == 0
    assert "C: quota user.dpc22\nS: OK 100000\n" in path.read_text()
    assert syncsh("replay", str(path)).returncode == 0


def test_secrets_are_never_recorded(tmp_path, capsys):
    path = tmp_path / "rec.txt"
    run_repl_keys(f"\\record {path}\nauthenticate PLAIN AGFkbWluAHNlY3JldA==\n\x04", "demo:cyrus-2")
    text = path.read_text()
    assert "AGFkbWluAHNlY3JldA==" not in text and "not recorded" in text


def test_a_recording_after_replicate_replays_from_its_snapshot(tmp_path, capsys):
    from syncsh import demo
    master = os.path.join(demo.ensure_pair(), "cyrus-1")
    assert syncsh("replicate", "--master", master, "-s", "demo:cyrus-2", "-u",
                  "dpc22").returncode == 0           # the replica is no longer as created
    path = tmp_path / "rec.txt"
    status = run_repl_keys("user_some dpc22 user.dpc22\nselect user.dpc22\n\x04",
                           "record", str(path), "demo:cyrus-2")
    assert status == 0
    text = path.read_text()
    assert "%setup snapshot rec.txt.snapshot" in text
    assert "OK 6b98205c796c6c61 4156" in text       # the replicated uidlast
    proc = syncsh("replay", str(path))
    assert proc.returncode == 0, proc.stdout.decode()
    # a pair as created needs no snapshot
    demo.init(demo.pair_dir())
    status = run_repl_keys("quota user.dpc22\n\x04", "record", str(tmp_path / "b.txt"),
                           "demo:cyrus-2")
    assert "%setup" not in (tmp_path / "b.txt").read_text()


def test_a_recording_of_real_cyrus_replays_with_the_password_from_the_environment(
        cyrus, tmp_path, capsys, monkeypatch):
    cyrus.seed("recorded", 3)
    assert cyrus.sync("recorded").returncode == 0
    target = f"csync://admin@127.0.0.1:{cyrus.replica_port}"
    monkeypatch.setenv("SYNCSH_PASSWORD", "secret")
    path = tmp_path / "rec.txt"
    status = run_repl_keys("GET USER recorded\n\x04", "record", str(path), target)
    assert status == 0
    text = path.read_text()
    assert "secret" not in text and "AUTHENTICATE" not in text
    connect = text.split("C: $ ssh")[1].split("C: GET")[0]
    shown = [line for line in connect.splitlines() if line.startswith("S:")]
    assert len(shown) == 1 and "Cyrus sync server" in shown[0]      # the banner line only
    proc = syncsh("replay", "--host", f"replica={target}", str(path))
    assert proc.returncode == 0, proc.stdout.decode()


LOCKS = os.path.join(ROOT, "transcripts", "08-locks-across-sessions.txt")


def test_a_lock_holds_the_second_session_until_enduser(tmp_path):
    proc = syncsh("replay", LOCKS)
    assert proc.returncode == 0, proc.stdout.decode()
    lines = open(LOCKS).read().split("\n")
    first_enduser = lines.index("C: enduser")
    del lines[first_enduser:first_enduser + 2]          # A never lets go
    path = tmp_path / "no-enduser.txt"
    path.write_text("\n".join(lines))
    proc = syncsh("replay", str(path))
    assert proc.returncode == 1
    out = proc.stdout.decode()
    b_line = lines.index("C[B]: user dpc22", first_enduser) + 1
    assert out.split("failed  line ")[1].startswith(f"{b_line}: user dpc22"), out
    assert "+NO Failed to lock dpc22" in out


def test_session_labels_are_checked(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("C: $ ssh cyrus-2 x\nS: * Sync Server ...\nS[B]: OK x\n")
    proc = syncsh("replay", str(path))
    assert proc.returncode == 2 and b"an S: line before any C: line of session B" in proc.stdout
    path.write_text("C: $ ssh cyrus-2 x\nS: * Sync Server ...\nC[B]: quota user.dpc22\n")
    proc = syncsh("replay", str(path))
    assert proc.returncode == 2 and b"before any `$ ssh` connection of session B" in proc.stdout
    path.write_text("%setup lock-timeout soon\nC: $ ssh cyrus-2 x\n")
    proc = syncsh("replay", str(path))
    assert proc.returncode == 2 and b"%setup lock-timeout SECONDS" in proc.stdout


def test_update_interactive_asks_per_failing_step(tmp_path):
    path = tmp_path / "t.txt"
    text = ("C: $ ssh cyrus-2 x\nS: * Sync Server ...\nC: quota user.dpc22\nS: OK 1\n"
            "C: quota user.dpc22\nS: OK 2\n")
    path.write_text(text)
    proc = syncsh("replay", "--update", "-i", str(path), input=b"n\ny\n")
    assert proc.returncode == 1
    assert proc.stdout.decode().count("accept the new reply of line") == 2
    assert path.read_text() == text.replace("S: OK 2", "S: OK 100000")


def test_control_bytes_in_a_reply_reach_the_report_escaped(tmp_path):
    import xml.etree.ElementTree as ET
    fake = tmp_path / "fake.py"
    fake.write_text("import sys\nsys.stdout.buffer.write(b'* Sync Server v0.0 [EXPERIMENTAL]\\r\\n')\n"
                    "sys.stdout.flush()\nfor line in sys.stdin.buffer:\n"
                    "    sys.stdout.buffer.write(b'OK \\x1b]0;PWNED\\x07\\x1b[2J\\r\\n'); sys.stdout.flush()\n")
    path = tmp_path / "t.txt"
    path.write_text("C: $ ssh fake x\nS: * Sync Server ...\nC: quota user.dpc22\nS: OK 1\n")
    host = ("--trust-hosts", "--host", f"fake=exec:{sys.executable} {fake}")
    proc = syncsh("replay", *host, str(path))
    assert proc.returncode == 1 and b"\x1b" not in proc.stdout and b"\x07" not in proc.stdout
    assert b"+OK \\x1b]0;PWNED\\x07\\x1b[2J" in proc.stdout
    proc = syncsh("replay", "--format", "junit", *host, str(path))
    ET.fromstring(proc.stdout)                           # well-formed XML


def test_a_long_literal_is_read_in_linear_time(tmp_path):
    """A recorded APPLY MESSAGE or upload is one command over thousands of C: lines: each
    line is fed once (asking the whole text at every line took 32 s for 30k lines)."""
    from syncsh.transcript.lint import lint
    from syncsh.transcript.parse import parse

    def transcript(count):
        body = "\r\n".join(f"line {i} of a long body" for i in range(count)).encode()
        text = (f"C: $ ssh cyrus-2 x\nS: * Sync Server ...\nC: user dpc22\nS: OK Locked dpc22\n"
                f"C: upload_sieve big 1 {{{len(body)}+}}\n"
                + "\n".join(f"C: line {i} of a long body" for i in range(count))
                + "\nS: OK Upload_sieve completed\n")
        path = tmp_path / f"t{count}.txt"
        path.write_text(text)
        return str(path)

    def cost(path):
        import time
        times = []
        for _ in range(3):                       # the least of three: noise only adds
            start = time.process_time()
            parsed = parse(path)
            assert lint(parsed) == [] and len(parsed.steps) == 3
            times.append(time.process_time() - start)
        return min(times)
    small, big = transcript(5_000), transcript(50_000)
    # 10x the lines: about 10x the time (quadratic reading was 100x: 32 s for 30k lines)
    assert cost(big) <= 25 * max(cost(small), 0.001)


def test_lint_names_what_replay_would_stop_at(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("%setup replay nonexistent.txt\nC: quota user.dpc22\nS: OK 1\n"
                    "C: $ ssh cyrus-2 x\nS: * Sync Server ...\nC[B]: quota user.dpc22\n"
                    "C: $ rm -rf /\nC: $ ssh cyrus-2 x\nS: * Sync Server ...\n"
                    "C: upload_sieve x 1 {5+}\nC: abc\nS: OK Upload_sieve completed\n")
    proc = syncsh("replay", "--lint", str(path))
    out = proc.stdout.decode()
    assert proc.returncode == 1, out
    for number, text in ((1, "%setup replay nonexistent.txt: no such file"),
                         (2, "a protocol line before any `$ ssh`"),
                         (6, "a protocol line before any `$ ssh` of session B"),
                         (7, "a shell line replay cannot run"),
                         (10, "its literal announces more bytes than its C: lines hold")):
        assert f"{path}:{number}: {text}" in out, out


def test_recording_into_a_directory_that_is_not_there_is_refused(tmp_path, capsys):
    missing = tmp_path / "no" / "such" / "dir"
    run_repl_keys(f"\\record {missing}/x.txt\nquota user.dpc22\n\x04", "demo:cyrus-2")
    assert "cannot record to" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


def test_record_reads_its_target_from_the_config_it_is_given(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text('[targets]\nthe-replica = "demo:cyrus-2"\n')
    path = tmp_path / "rec.txt"
    status = run_repl_keys("quota user.dpc22\n\x04", "record", str(path), "the-replica",
                           "--config", str(config))
    assert status == 0, capsys.readouterr().err
    text = path.read_text()
    assert "C: quota user.dpc22" in text and "S: OK" in text
    assert syncsh("replay", str(path)).returncode == 0
