"""What a real server fixture needs of this host: Debian packages installed once across
concurrent runs, free ports, and the processes that belong to a fixture."""

from __future__ import annotations

import os
import socket
import subprocess

INSTALL_LOCK = "/tmp/syncsh-test-install.lock"


class FixtureError(RuntimeError):
    pass


def missing_packages(packages) -> list[str]:
    missing = []
    for package in packages:
        status = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", package],
                                capture_output=True, text=True)
        if status.stdout.strip() != "installed":
            missing.append(package)
    return missing


def install(packages) -> None:
    """apt-get the packages that are missing, with no system-wide daemon started by them
    (policy-rc.d), one installer at a time across concurrent test runs."""
    import fcntl
    if not missing_packages(packages):
        return
    if os.geteuid() != 0:
        raise FixtureError(f"{' '.join(packages)} not installed, and installing needs root: "
                           "run ./dev test as root (or with sudo)")
    with open(INSTALL_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        missing = missing_packages(packages)
        if not missing:
            return
        policy = "/usr/sbin/policy-rc.d"
        guard = not os.path.exists(policy)
        if guard:
            with open(policy, "w") as handle:
                handle.write("#!/bin/sh\n# syncsh tests: no daemons from package scripts\nexit 101\n")
            os.chmod(policy, 0o755)
        try:
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            apt = ["apt-get", "-q", "-o", "DPkg::Lock::Timeout=600"]
            subprocess.run([*apt, "update"], env=env, capture_output=True)
            done = subprocess.run([*apt, "-y", "-o", "Dpkg::Options::=--force-confdef",
                                   "-o", "Dpkg::Options::=--force-confold", "install",
                                   "--no-install-recommends", *missing],
                                  env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise FixtureError("apt-get install failed: " + done.stderr.strip()[-500:])
        finally:
            if guard:
                os.unlink(policy)


def free_ports(count: int) -> list[int]:
    """Ports free now; bound together so the kernel hands out distinct ones."""
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            sockets.append(probe)
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def alive(pid: int) -> bool:
    """Running and not a zombie (a daemonised master is reaped by PID 1 only later)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def pids_naming(path: str) -> list[int]:
    """Processes whose command line holds `path` as one argument: the instance's own."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if path.encode() in argv:
            found.append(int(entry))
    return found


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0
