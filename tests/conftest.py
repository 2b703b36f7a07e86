import contextlib
import io
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = os.path.join(ROOT, "tests", "fixtures", "replication-examples.txt")


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path, monkeypatch):
    """Every test gets its own data directory: demo pair, history, audit log; and the
    process umask back after it (syncsh's main() run in process tightens it to 077)."""
    monkeypatch.setenv("SYNCSH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    umask = os.umask(0o022)
    os.umask(umask)
    yield
    os.umask(umask)


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


# commands that own the process (its stdio file descriptors, its signals) run as one
_PROCESS_COMMANDS = ("server", "tap")


def syncsh(*args, input=None, timeout=60, env=None, process=False):
    """The syncsh command line as a user runs it: ``main(argv, env)`` in this process over
    in-memory streams (stdin not a terminal, as under a pipe), or with ``process`` (or
    environment variables of its own, or a command that owns its process) a real child.
    Either way a CompletedProcess with the bytes of stdout and stderr."""
    if process or env is not None or (args and args[0] in _PROCESS_COMMANDS):
        return subprocess.run([sys.executable, "-m", "syncsh", *args], input=input,
                              capture_output=True, timeout=timeout, env=env)
    return in_process(*args, input=input)


def in_process(*args, input=None, **facts):
    from syncsh.cli import main
    from syncsh.environment import Environment
    environment = Environment.in_memory(input or b"", **facts)
    status = main(list(args), environment)
    out, err = environment.captured()
    return subprocess.CompletedProcess(["syncsh", *args], int(status), out, err)


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


def pytest_configure(config):
    """A run ended by SIGTERM (a CI limit, a kill) tears down like Ctrl-C: the Cyrus pairs'
    daemonised masters are not our children and would outlive it."""
    import signal

    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)


def require_cyrus():
    """Real Cyrus needs root (its master drops to the cyrus user; apt installs it)."""
    if os.geteuid() != 0:
        problem = "the Cyrus tests need root (they install and start cyrus-imapd)"
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem + ": run ./dev test as root or with sudo")


@pytest.fixture(scope="session")
def cyrus():
    require_cyrus()
    from servers.cyrus import CyrusPair
    pair = CyrusPair(f"/tmp/syncsh-cp-{os.getpid()}")
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


def diff_report(stdout) -> dict:
    """`syncsh diff --format json`'s JSON lines (docs/json.md) folded back into one
    report: every line is one object with a type; the "report" line comes last."""
    import json
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert rows and all(isinstance(row, dict) and "type" in row for row in rows), stdout
    assert rows[-1]["type"] == "report" and [r for r in rows if r["type"] == "report"] == \
        rows[-1:], stdout
    report = {k: v for k, v in rows[-1].items() if k != "type"}
    report["findings"] = [{k: v for k, v in r.items() if k != "type"}
                          for r in rows if r["type"] == "finding"]
    report["next_steps"] = [{k: v for k, v in r.items() if k != "type"}
                            for r in rows if r["type"] == "step"]
    assert len(report["findings"]) == rows[-1]["findings"]
    assert len(report["next_steps"]) == rows[-1]["next_steps"]
    return report
