"""SSH as OpenSSH does it, against real sshd's on 127.0.0.1, with OpenSSH's own ssh client
run the same way for comparison: a host offering a key of another type than the one on
file is a changed key; ProxyJump hops are taken in order and may repeat; an identity file
others can read is refused; 'yes' (not 'y') accepts a host key; a port with no SSH banner
is a one-line error."""

import os
import socket
import subprocess
import threading

import pytest

from conftest import syncsh
from sshd import Sshd, keygen, ssh_environment


@pytest.fixture
def ssh(tmp_path, pair):
    with ssh_environment(tmp_path, pair) as env:
        yield env


def host_block(name, port, key, known, extra=""):
    return (f"Host {name}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n"
            f"  IdentityFile {key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {known}\n"
            f"  BatchMode yes\n{extra}")


def openssh(config, host, *extra):
    """OpenSSH's client, for comparison: its exit status and stderr."""
    done = subprocess.run(["ssh", "-F", str(config), *extra, host, "echo reached"],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    return done.returncode, done.stdout + done.stderr


def quota(env, target="ssh://replica", *extra):
    return syncsh(target, *env.args, *extra, "-c", "quota user.dpc22")


def test_a_host_key_of_another_type_than_the_one_on_file_is_a_changed_key(ssh):
    ecdsa_only = Sshd(ssh.dir, f"{ssh.key}.pub", name="ecdsa", host_key_type="ecdsa")
    ssh.stop.append(ecdsa_only)
    other_ed25519 = keygen(ssh.dir / "some_ed25519")
    ssh.known.write_text(ecdsa_only.known_hosts_line(key=other_ed25519))   # ed25519 on file
    ssh.config.write_text(host_block("replica", ecdsa_only.port, ssh.key, ssh.known,
                                     "  StrictHostKeyChecking accept-new\n"))
    before = ssh.known.read_text()
    proc = quota(ssh)
    assert proc.returncode == 2
    [line] = proc.stderr.decode().splitlines()
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in line and "ecdsa-sha2-nistp256" in line
    assert ssh.known.read_text() == before                    # nothing added
    status, said = openssh(ssh.config, "replica")
    assert status != 0 and "reached" not in said, said


def test_a_server_with_the_known_type_among_others_is_checked_against_it(ssh):
    extra_key = keygen(ssh.dir / "second_host_ecdsa", kind="ecdsa")
    both = Sshd(ssh.dir, f"{ssh.key}.pub", name="both", extra=f"HostKey {extra_key}\n")
    ssh.stop.append(both)
    ssh.known.write_text(both.known_hosts_line())             # only its ed25519 key
    ssh.config.write_text(host_block("replica", both.port, ssh.key, ssh.known))
    proc = quota(ssh)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == b"OK 100000"


def test_two_hop_proxyjump_goes_through_the_hops_in_order(ssh):
    target = ssh.server.port
    # each hop may only open a channel to the next: any other order is refused
    second = Sshd(ssh.dir, f"{ssh.key}.pub", name="second",
                  extra=f"PermitOpen 127.0.0.1:{target}\n")
    first = Sshd(ssh.dir, f"{ssh.key}.pub", name="first",
                 extra=f"PermitOpen 127.0.0.1:{second.port}\n")
    ssh.stop += [first, second]
    with open(ssh.known, "a") as handle:
        handle.write(first.known_hosts_line() + second.known_hosts_line())
    blocks = (host_block("first", first.port, ssh.key, ssh.known)
              + host_block("second", second.port, ssh.key, ssh.known)
              + host_block("behind", target, ssh.key, ssh.known, "  ProxyJump first,second\n")
              + host_block("backwards", target, ssh.key, ssh.known, "  ProxyJump second,first\n"))
    ssh.config.write_text(blocks)
    proc = quota(ssh, "ssh://behind")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == b"OK 100000"
    assert openssh(ssh.config, "behind")[0] == 0              # OpenSSH agrees ...
    proc = quota(ssh, "ssh://backwards")
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert openssh(ssh.config, "backwards")[0] != 0           # ... both ways


def test_a_repeated_hop_is_allowed(ssh):
    target = ssh.server.port
    hop = Sshd(ssh.dir, f"{ssh.key}.pub", name="hop",
               extra=f"PermitOpen 127.0.0.1:{{port}} 127.0.0.1:{target}\n")
    ssh.stop.append(hop)
    with open(ssh.known, "a") as handle:
        handle.write(hop.known_hosts_line())
    ssh.config.write_text(host_block("hop", hop.port, ssh.key, ssh.known)
                          + host_block("twice", target, ssh.key, ssh.known,
                                       "  ProxyJump hop,hop\n"))
    proc = quota(ssh, "ssh://twice")
    assert proc.returncode == 0, proc.stderr
    assert openssh(ssh.config, "twice")[0] == 0


def test_an_identity_file_others_can_read_is_refused_with_openssh_words(ssh):
    ssh.key.chmod(0o644)
    proc = quota(ssh)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert f"Permissions 0644 for '{ssh.key}' are too open." in err
    assert "This private key will be ignored." in err
    assert "authentication" in err.splitlines()[-1]
    status, said = openssh(ssh.config, "replica")
    assert status != 0 and f"Permissions 0644 for '{ssh.key}' are too open." in said
    ssh.key.chmod(0o600)
    assert quota(ssh).returncode == 0


def test_y_is_not_yes_at_the_host_key_prompt(ssh, capsys):
    from test_transcripts import run_repl_keys
    ssh.known.write_text("")
    ssh.config.write_text(ssh.config.read_text().replace("  BatchMode yes\n", ""))
    status = run_repl_keys("y\nno\n\x04", "ssh://replica", *ssh.args, "--format", "raw")
    assert status == 0                              # the REPL goes on, unconnected
    assert "not accepted" in capsys.readouterr().err  # 'y' was asked again; 'no' refused
    assert ssh.known.read_text() == ""
    fingerprint = os.popen(f"ssh-keygen -lf {ssh.server.host_key}.pub").read().split()[1]
    # 'y' asked again, then the fingerprint accepts (as OpenSSH's question allows)
    status = run_repl_keys(f"y\n{fingerprint}\nquota user.dpc22\n\x04", "ssh://replica",
                           *ssh.args, "--format", "raw")
    assert status == 0
    assert "OK 100000" in capsys.readouterr().out
    assert ssh.known.read_text().startswith(f"[127.0.0.1]:{ssh.server.port} ssh-ed25519 ")


@pytest.mark.parametrize("behaviour", ["silent", "closes", "not-ssh"])
def test_a_port_with_no_ssh_banner_is_one_line(ssh, behaviour):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    held = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            if behaviour == "closes":
                conn.close()
            elif behaviour == "not-ssh":
                conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
                held.append(conn)
            else:
                held.append(conn)
    threading.Thread(target=serve, daemon=True).start()
    ssh.config.write_text(host_block("nobanner", port, ssh.key, ssh.known))
    try:
        proc = syncsh("ssh://nobanner", *ssh.args, "--timeout", "2", "-c", "quota user.dpc22")
        assert proc.returncode == 2
        [line] = proc.stderr.decode().splitlines()
        assert line.startswith(f"syncsh: SSH handshake with [127.0.0.1]:{port} failed: no SSH "
                               "banner"), line
    finally:
        listener.close()
        for conn in held:
            conn.close()
