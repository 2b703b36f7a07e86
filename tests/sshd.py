"""A real OpenSSH sshd on a free loopback port, with its own host key and authorised key
(installed from Debian when missing, as the Cyrus pair of servers/cyrus.py is)."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import types

import pytest

SSHD = "/usr/sbin/sshd"


def require_sshd():
    if os.geteuid() == 0 and (not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None):
        from servers.host import install
        install(["openssh-server", "openssh-client"])     # with no daemon started by apt
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("OpenSSH's sshd is missing in CI (apt-get install openssh-server)")
        pytest.skip("sshd is not installed: sudo apt-get install openssh-server")
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("the sshd tests need root")
        pytest.skip("the sshd tests need root: sudo ./dev test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path, kind="ed25519", passphrase=""):
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-f", str(path)],
                   check=True)
    return path


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


class Sshd:
    """``host_key_type``: the one host key it offers; ``extra``: more sshd_config lines
    ({port} stands for its own port)."""

    def __init__(self, directory, client_key_pub, name="sshd", host_key_type="ed25519",
                 extra=""):
        self.dir = directory / name
        self.dir.mkdir()
        self.port = free_port()
        self.host_key = keygen(self.dir / f"host_{host_key_type}", kind=host_key_type)
        self.authorized = self.dir / "authorized_keys"
        self.authorized.write_text(open(str(client_key_pub)).read())
        self.authorized.chmod(0o600)
        self.config = self.dir / "sshd_config"
        self.config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\n"
            f"AuthorizedKeysFile {self.authorized}\nPidFile {self.dir / 'pid'}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            "StrictModes no\nPermitRootLogin prohibit-password\nAllowTcpForwarding yes\n"
            "LogLevel ERROR\n" + extra.format(port=self.port))
        os.makedirs("/run/sshd", exist_ok=True)
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)],
                                     stderr=open(self.dir / "log", "w"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(open(self.dir / "log").read())
                time.sleep(0.02)
        raise RuntimeError("sshd did not start")

    def known_hosts_line(self, *, key=None) -> str:
        kind, blob = open(f"{key or self.host_key}.pub").read().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {blob}\n"

    def kill_sessions(self) -> None:
        """Kill every per-connection sshd process: the connection drops at once.  Only sshd
        itself: the remote shells then end on their own, as they would after a real crash
        (a shell killed in the middle of its start-up files can leave locks behind)."""
        def tree(pid):
            for child in children(pid):
                yield from tree(child)
                yield child
        for pid in list(tree(self.proc.pid)):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    if not handle.read().startswith(b"sshd"):
                        continue
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, FileNotFoundError):
                pass

    def stop(self) -> None:
        self.kill_sessions()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def client_setup(directory, host="replica", name="sshd"):
    """A server, a client key it accepts and an ssh_config naming it `host`:
    (server, key, known_hosts, config)."""
    key = keygen(directory / f"{name}_client_key")
    server = Sshd(directory, f"{key}.pub", name=name)
    known = directory / f"{name}_known_hosts"
    known.write_text(server.known_hosts_line())
    config = directory / f"{name}_ssh_config"
    config.write_text(f"Host {host}\n  HostName 127.0.0.1\n  Port {server.port}\n  User root\n"
                      f"  IdentityFile {key}\n  IdentitiesOnly yes\n"
                      f"  UserKnownHostsFile {known}\n")
    return server, key, known, config


@contextlib.contextmanager
def ssh_environment(directory, pair):
    """A real sshd serving the reference server on the pair's replica store, and what a
    test needs to reach it (server, key, known_hosts, config, the remote command and the
    syncsh arguments); servers a test adds to `stop` are stopped with it."""
    require_sshd()
    server, key, known, config = client_setup(directory)
    env = types.SimpleNamespace(server=server, key=key, known=known, config=config,
                                dir=directory, pair=pair, stop=[server])
    env.command = f"{sys.executable} -m syncsh server --store {pair[1]}"
    env.args = ["--ssh-config", str(config), "--remote-command", env.command]
    try:
        yield env
    finally:
        for each in env.stop:
            each.stop()
