"""Figure 6: SSH bulk throughput at least 0.8x OpenSSH's ssh on the same loopback sshd;
request/response latency reported for both.  Needs root and openssh-server (./dev bench)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile
import time

from common import ROOT, Figure

sys.path.insert(0, os.path.join(ROOT, "tests"))
SIZE = 64 << 20
ROUNDS = 200


def setup():
    from sshd import client_setup
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="syncsh-bench-ssh-"))
    server, _, _, config = client_setup(tmp, host="b")
    return server, config, tmp


def ours_bulk(config) -> float:
    from syncsh.transport.ssh import SSHOptions, SSHTransport
    start = time.perf_counter()          # connection set-up included, as for ssh(1)
    transport = SSHTransport("b", f"head -c {SIZE} /dev/zero", SSHOptions(config_file=str(config)))
    got = 0
    while True:
        data = transport.recv(30)
        if not data:
            break
        got += len(data)
    elapsed = time.perf_counter() - start
    transport.close()
    assert got == SIZE, got
    return elapsed


def openssh_bulk(config) -> float:
    start = time.perf_counter()
    proc = subprocess.run(["ssh", "-T", "-F", str(config), "b", f"head -c {SIZE} /dev/zero"],
                          capture_output=True, check=True)
    elapsed = time.perf_counter() - start
    assert len(proc.stdout) == SIZE
    return elapsed


def latency(target_args) -> float:
    from syncsh.connect import open_session
    from syncsh.targets import TargetOptions, parse_target
    store = tempfile.mkdtemp(prefix="syncsh-bench-store-")
    command = f"{sys.executable} -m syncsh server --store {store}"
    config, backend = target_args
    options = TargetOptions(remote_command=command, ssh_config=str(config), ssh_backend=backend)
    session = open_session(parse_target("ssh://b", options=options), learn=False)
    start = time.perf_counter()
    for _ in range(ROUNDS):
        session.run("QUOTA user.x")
    elapsed = (time.perf_counter() - start) / ROUNDS
    session.close()
    return elapsed


def measure() -> list[Figure]:
    if os.geteuid() != 0 or not os.path.exists("/usr/sbin/sshd"):
        return [Figure("SSH throughput", float("nan"), float("nan"), "s", ">= 0.8x OpenSSH",
                       None, "not measured: needs root and openssh-server")]
    server, config, _ = setup()
    try:
        ours = min(ours_bulk(config) for _ in range(3))
        theirs = min(openssh_bulk(config) for _ in range(3))
        rate = (SIZE / ours) / (SIZE / theirs)
        lat_ours = latency((config, "paramiko"))
        lat_theirs = latency((config, "openssh"))
    finally:
        server.stop()
    return [Figure("SSH bulk 64 MiB", ours, theirs, "s", ">= 0.8x OpenSSH's throughput",
                   rate >= 0.8, f"{rate:.2f}x OpenSSH ({SIZE / ours / 1e6:.0f} MB/s)"),
            Figure("SSH request/response", lat_ours * 1000, lat_theirs * 1000, "ms", "reported",
                   None, "paramiko against the system ssh, same sshd")]


if __name__ == "__main__":
    for figure in measure():
        print(figure.row())
