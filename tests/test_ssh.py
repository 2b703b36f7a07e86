"""SSH targets against a real OpenSSH sshd on 127.0.0.1: nothing mocked."""

import os
import time

import pytest

from conftest import keys_from, syncsh
from sshd import Sshd, keygen, ssh_environment

from test_server import ACL, LISTING


@pytest.fixture
def ssh(tmp_path, pair):
    with ssh_environment(tmp_path, pair) as env:
        yield env


DOC_SESSION = ["user_some dpc22 user.dpc22", "select user.dpc22", "expunge 1",
               "setflags 4140 (hello world)", "status"]


def run(target, env, *commands, extra=(), input=None):
    args = [target, *env.args, *extra]
    for command in commands:
        args += ["-c", command]
    return syncsh(*args, input=input)


def test_the_documents_first_session_over_ssh(ssh):
    proc = run("ssh://replica", ssh, *DOC_SESSION, extra=["--allow-writes"])
    assert proc.returncode == 0, proc.stderr
    expected = ([b"* Sync Server v0.0 [EXPERIMENTAL]",
                 b"** 6b98205c796c6c61 user.dpc22 " + ACL + b" 4151 1062945305"]
                + LISTING + [b"OK User_Some finished", b"OK 6b98205c796c6c61 4151 1062945305",
                             b"OK Expunge Complete", b"OK Updated flags on 1 messages okay"]
                + LISTING[1:-1] + [b"* 4140 0101003f4c56b08c9d000026 (hello world)", b"OK 4151"])
    assert proc.stdout == b"".join(line + b"\n" for line in expected).replace(b"\r", b"")


def test_user_host_and_port_in_the_url(ssh):
    proc = syncsh(f"ssh://root@127.0.0.1:{ssh.server.port}", "--remote-command", ssh.command,
                  "--ssh-config", str(ssh.config), "-c", "quota user.dpc22")
    # 127.0.0.1 has no entry in this config: its key is not known under this config's
    # default known_hosts, so the key is refused ...
    assert proc.returncode == 2
    ssh.config.write_text(ssh.config.read_text() + f"\nHost 127.0.0.1\n  IdentityFile {ssh.key}\n"
                          f"  UserKnownHostsFile {ssh.known}\n")
    proc = syncsh(f"ssh://root@127.0.0.1:{ssh.server.port}", "--remote-command", ssh.command,
                  "--ssh-config", str(ssh.config), "-c", "quota user.dpc22")
    assert proc.returncode == 0, proc.stderr                       # ... and accepted when known
    assert proc.stdout.splitlines()[-1] == b"OK 100000"


def test_unknown_host_key_is_refused_with_its_fingerprint(ssh):
    ssh.known.write_text("")
    proc = run("ssh://replica", ssh, "quota user.dpc22")
    err = proc.stderr.decode().strip()
    fingerprint = os.popen(f"ssh-keygen -lf {ssh.server.host_key}.pub").read().split()[1]
    assert proc.returncode == 2
    assert len(err.splitlines()) == 1
    assert "unknown host key" in err and f"ssh-ed25519 {fingerprint}" in err
    assert ssh.known.read_text() == ""


def test_changed_host_key_is_refused_loudly(ssh, tmp_path):
    other = keygen(tmp_path / "other_host_key")
    ssh.known.write_text(ssh.server.known_hosts_line(key=other))
    proc = run("ssh://replica", ssh, "quota user.dpc22")
    err = proc.stderr.decode()
    assert proc.returncode == 2
    assert "HOST KEY CHANGED" in err
    fingerprint = os.popen(f"ssh-keygen -lf {ssh.server.host_key}.pub").read().split()[1]
    assert fingerprint in err


def test_unknown_key_accepted_at_the_prompt_is_written(ssh, capsys):
    from test_transcripts import run_repl_keys
    ssh.known.write_text("")
    status = run_repl_keys("yes\nquota user.dpc22\n\x04", "ssh://replica", *ssh.args,
                           "--format", "raw")
    assert status == 0
    assert "OK 100000" in capsys.readouterr().out
    assert ssh.known.read_text().startswith(f"[127.0.0.1]:{ssh.server.port} ssh-ed25519 ")
    proc = run("ssh://replica", ssh, "quota user.dpc22")           # now known: accepted
    assert proc.returncode == 0


def test_proxyjump_through_a_second_sshd(ssh, tmp_path):
    jump = Sshd(tmp_path, f"{ssh.key}.pub", name="jump")
    try:
        with open(ssh.known, "a") as handle:
            handle.write(jump.known_hosts_line())
        ssh.config.write_text(
            f"Host jump\n  HostName 127.0.0.1\n  Port {jump.port}\n  User root\n"
            f"  IdentityFile {ssh.key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {ssh.known}\n"
            f"Host behind\n  HostName 127.0.0.1\n  Port {ssh.server.port}\n  User root\n"
            f"  IdentityFile {ssh.key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {ssh.known}\n"
            f"  ProxyJump jump\n")
        proc = run("ssh://behind", ssh, "quota user.dpc22")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines()[-1] == b"OK 100000"
        jump.stop()                                   # without the jump host: no way through
        proc = run("ssh://behind", ssh, "quota user.dpc22")
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    finally:
        jump.stop()


def test_named_target_from_a_config_file(ssh, tmp_path):
    config = tmp_path / "syncsh.toml"
    config.write_text(f'[targets.cyrus-2]\nurl = "ssh://replica"\nremote_command = "{ssh.command}"\n'
                      f'[targets.ro]\nurl = "ssh://replica"\nremote_command = "{ssh.command}"\n'
                      "read_only = true\n")
    proc = syncsh("cyrus-2", "--config", str(config), "--ssh-config", str(ssh.config),
                  "-c", "quota user.dpc22")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == b"OK 100000"
    proc = syncsh("ro", "--config", str(config), "--ssh-config", str(ssh.config), "--allow-writes",
                  "-c", "setquota user.dpc22 1")
    assert proc.returncode == 2 and b"--read-only" in proc.stderr
    proc = syncsh("nothere", "--config", str(config), "-c", "quota x")
    assert proc.returncode == 2 and b"cyrus-2, ro" in proc.stderr


def test_the_openssh_backend(ssh):
    proc = run("ssh://replica", ssh, "quota user.dpc22", extra=["--ssh-backend", "openssh"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == b"OK 100000"


def test_server_stderr_goes_aside_not_into_the_protocol(ssh):
    command = f"{ssh.command} -v -v"
    proc = syncsh("ssh://replica", "--ssh-config", str(ssh.config), "--remote-command", command,
                  "-c", "user dpc22")
    assert proc.returncode == 0
    assert proc.stdout.decode().splitlines() == ["* Sync Server v0.0 [EXPERIMENTAL]",
                                                 "OK Locked dpc22"]
    assert "   USER dpc22" in proc.stderr.decode()


def test_big_output_does_not_deadlock(ssh):
    command = f"sh -c 'head -c 3000000 /dev/zero | tr \"\\\\0\" x >&2; {ssh.command}'"
    proc = syncsh("ssh://replica", "--ssh-config", str(ssh.config), "--remote-command", command,
                  "-c", "quota user.dpc22")
    assert proc.returncode == 0, proc.stderr[-300:]
    assert proc.stdout.splitlines()[-1] == b"OK 100000"


def test_replicate_over_ssh(ssh):
    master, replica = ssh.pair
    proc = syncsh("replicate", "--master", master, "-s", "ssh://replica", *ssh.args,
                  "-v", "-m", "user.dpc22")
    assert proc.returncode == 0, proc.stderr
    proc = run("ssh://replica", ssh, "user_some dpc22 user.dpc22")
    assert b" 4156 1062968731" in proc.stdout


def _kill_when_running(server, program: bytes, timeout: float = 20.0) -> None:
    """Kill sshd's sessions as soon as a process of `program` runs under it."""
    from sshd import children

    def tree(pid):
        for child in children(pid):
            yield child
            yield from tree(child)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in tree(server.proc.pid):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    if handle.read().startswith(program):
                        server.kill_sessions()
                        return
            except OSError:
                pass
        time.sleep(0.01)


def test_sshd_killed_mid_session_one_shot_exit_2(ssh):
    import threading
    slow = f"sh -c 'sleep 1; {ssh.command}'"
    # once the remote command runs (its `sleep`), before the banner arrives: a fixed delay
    # raced with the connection's set-up on a loaded machine
    timer = threading.Thread(target=_kill_when_running, args=(ssh.server, b"sleep"))
    timer.start()
    proc = syncsh("ssh://replica", "--ssh-config", str(ssh.config), "--remote-command", slow,
                  "-c", "quota user.dpc22")
    timer.join()
    err = proc.stderr.decode().strip()
    assert proc.returncode == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err


def test_sshd_killed_mid_session_leaves_the_repl_alive(ssh, capsys):
    import threading
    from prompt_toolkit.input import create_pipe_input
    from syncsh.cli import main

    result = {}
    with create_pipe_input() as pipe:
        def repl():
            with keys_from(pipe):
                result["status"] = main(["ssh://replica", *ssh.args, "--format", "raw"])
        thread = threading.Thread(target=repl)
        thread.start()
        pipe.send_text("user dpc22\n")
        deadline = time.monotonic() + 20
        while "OK Locked dpc22" not in capsys.readouterr().out:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ssh.server.kill_sessions()
        pipe.send_text("quota user.dpc22\n\\reconnect\nquota user.dpc22\n\x04")
        thread.join(30)
    captured = capsys.readouterr()
    assert result["status"] == 0
    assert "SSH connection to ssh://replica was lost" in captured.err or \
        "closed the connection" in captured.err
    assert "lost: the lock on dpc22" in captured.err
    assert "OK 100000" in captured.out                    # reconnected and working again


def test_directives_not_honoured_are_named(ssh):
    ssh.config.write_text(ssh.config.read_text() + "  ControlMaster auto\n  LocalForward 1 x:2\n")
    proc = run("ssh://replica", ssh, "quota user.dpc22")
    assert proc.returncode == 0
    assert "not honoured: controlmaster, localforward" in proc.stderr.decode()


def test_encrypted_key_passphrase_asked_at_the_prompt(ssh, tmp_path, capsys):
    from test_transcripts import run_repl_keys
    locked = keygen(tmp_path / "locked_key", passphrase="s3cret-phrase")
    ssh.server.authorized.write_text(open(f"{locked}.pub").read())
    ssh.config.write_text(ssh.config.read_text().replace(str(ssh.key), str(locked)))
    proc = run("ssh://replica", ssh, "quota user.dpc22")           # no prompt in one-shot use
    assert proc.returncode == 2 and b"encrypted" in proc.stderr
    status = run_repl_keys("s3cret-phrase\nquota user.dpc22\n\x04", "ssh://replica", *ssh.args,
                           "--format", "raw")
    captured = capsys.readouterr()
    assert status == 0 and "OK 100000" in captured.out
    assert "s3cret-phrase" not in captured.out + captured.err


def test_server_alive_interval_notices_a_peer_that_stops_answering(ssh):
    """sshd frozen (SIGSTOP): with ServerAliveInterval 1 and CountMax 2 the one-shot client
    gives up after about 2 s of unanswered keepalives, long before --timeout."""
    import signal
    import threading
    ssh.config.write_text(ssh.config.read_text() + "  ServerAliveInterval 1\n"
                          "  ServerAliveCountMax 2\n")
    slow = f"sh -c 'sleep 3; {ssh.command}'"
    frozen = []

    def freeze():
        from sshd import children
        for pid in children(ssh.server.proc.pid):
            os.kill(pid, signal.SIGSTOP)
            frozen.append(pid)

    timer = threading.Timer(1.0, freeze)
    timer.start()
    started = time.monotonic()
    try:
        proc = syncsh("ssh://replica", "--ssh-config", str(ssh.config), "--remote-command", slow,
                      "--timeout", "60", "-c", "quota user.dpc22", timeout=90)
    finally:
        timer.join()
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    assert proc.returncode == 2
    assert b"stopped answering" in proc.stderr
    assert time.monotonic() - started < 30
