import contextlib
import io
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = os.path.join(ROOT, "..", "shared", "seeds", "000_2caa6a45618fd94a.txt")


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path, monkeypatch):
    """Every test gets its own data directory: demo pair, history, audit log."""
    monkeypatch.setenv("SYNCSH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("NO_COLOR", raising=False)


@contextlib.contextmanager
def keys_from(pipe):
    """Run the console in this process on prompt_toolkit's pipe input, as on a terminal:
    syncsh takes a stdin that is not one for commands piped in (syncsh < FILE)."""
    from unittest import mock

    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.output import DummyOutput

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    with mock.patch.object(sys, "stdin", Terminal()), \
            create_app_session(input=pipe, output=DummyOutput()):
        yield


@pytest.fixture
def pair(tmp_path):
    from syncsh import demo
    master, replica = demo.init(str(tmp_path / "pair"))
    return master, replica


def syncsh(*args, input=None, timeout=60, env=None):
    """Run the syncsh command line as a user would: a real process."""
    return subprocess.run([sys.executable, "-m", "syncsh", *args], input=input,
                          capture_output=True, timeout=timeout, env=env)


def server_argv(store, *extra):
    return [sys.executable, "-m", "syncsh", "server", "--store", store, *extra]


def teed_server(directory, store, *flags):
    """An exec: target running the reference server on `store`, with every byte the client
    sends copied to a file: (target, log path)."""
    log = directory / "sent.bin"
    script = directory / "tee.sh"
    script.write_text(f"#!/bin/sh\ntee {log} | {sys.executable} -m syncsh server "
                      f"--store {store} {' '.join(flags)}\n")
    script.chmod(0o755)
    return f"exec:{script}", log


PAIR_SCRIPT = os.environ.get("CYRUS_PAIR") or os.path.join(ROOT, "..", "shared", "cyrus",
                                                            "cyrus-pair")


def require_cyrus():
    problem = None
    if not os.path.exists(PAIR_SCRIPT):
        problem = f"no cyrus-pair at {PAIR_SCRIPT}"
    elif os.geteuid() != 0:
        problem = "the Cyrus tests need root (cyrus-pair installs and starts cyrus-imapd)"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem + ": run sudo ./dev test")


class CyrusPair:
    def __init__(self, directory: str, port: int, extra_env=None) -> None:
        self.dir = directory
        self.port = port
        self.env = dict(os.environ, **(extra_env or {}))
        self.run("start")
        import json
        self.vars = json.loads(self.run("env", "--json").stdout)
        self.replica_port = int(self.vars["CYRUS_REPLICA_CSYNC_PORT"])
        self.master_port = int(self.vars["CYRUS_MASTER_CSYNC_PORT"])
        self.replica_socket = self.vars["CYRUS_REPLICA_CSYNC_SOCKET"]
        self.master_socket = self.vars["CYRUS_MASTER_CSYNC_SOCKET"]
        self.replica_conf = self.vars["CYRUS_REPLICA_CONF"]
        self.master_conf = self.vars["CYRUS_MASTER_CONF"]
        self.replica_imap = int(self.vars["CYRUS_REPLICA_IMAP_PORT"])
        self.master_imap = int(self.vars["CYRUS_MASTER_IMAP_PORT"])

    def run(self, *args, check=True):
        return subprocess.run([PAIR_SCRIPT, "-d", self.dir, "-p", str(self.port), *args],
                              check=check, capture_output=True, text=True, timeout=300,
                              env=self.env)

    def seed(self, user, count, side="master"):
        self.run("seed", user, str(count), side)

    def sync(self, *users):
        return self.run("sync", *users, check=False)

    def destroy(self):
        self.run("destroy", check=False)


def free_port_base() -> int:
    """A base port whose pair ports (BASE, BASE+1, BASE+10, BASE+11) are all free now, so
    two test runs on one machine do not collide."""
    import random
    import socket
    for _ in range(200):
        base = random.randrange(20000, 60000, 20)
        try:
            for offset in (0, 1, 10, 11):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range for the Cyrus pair")


@pytest.fixture(scope="session")
def cyrus():
    require_cyrus()
    pair = CyrusPair(f"/tmp/syncsh-cp-{os.getpid()}", free_port_base())
    yield pair
    pair.destroy()


# ---------------------------------------------------------------------- ./dev stress report

_STRESS_RESULTS = []


def pytest_runtest_logreport(report):
    if os.environ.get("SYNCSH_STRESS") == "1" and report.when == "call":
        _STRESS_RESULTS.append((report.nodeid.split("::")[-1], report.outcome, report.duration))


def pytest_sessionfinish(session, exitstatus):
    """`./dev stress` writes its figures into bench/README.md."""
    if os.environ.get("SYNCSH_STRESS") != "1" or not _STRESS_RESULTS:
        return
    import datetime
    path = os.path.join(ROOT, "bench", "README.md")
    begin, end = "<!-- stress:begin -->", "<!-- stress:end -->"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = "\n".join(f"| {name} | {outcome} | {duration:.1f} s |"
                     for name, outcome, duration in _STRESS_RESULTS)
    block = (f"{begin}\nLatest `./dev stress`: {stamp} (100k examples a fuzzed parser, 20k "
             f"damaged listings a dialect read both ways, 8 clients x 1000 commands, 100 "
             f"SIGKILLs during replicate).\n\n| run | outcome | time |\n"
             f"|---|---|---|\n{rows}\n{end}")
    text = open(path, encoding="utf-8").read()
    if begin in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text += "\n## Stress runs\n\n" + block + "\n"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
