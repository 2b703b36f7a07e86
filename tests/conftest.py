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
