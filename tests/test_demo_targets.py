"""demo: targets: reading the string makes nothing on disk; the user's demo pair is made the
first time a target on it is used (a session opened on it, or its store read by path)."""

from __future__ import annotations

import os

import pytest

from conftest import syncsh
from syncsh import demo
from syncsh.targets import TargetOptions, parse_target


@pytest.fixture
def data_dir():
    """The test's own SYNCSH_DATA_DIR, there and empty."""
    path = os.environ["SYNCSH_DATA_DIR"]
    os.makedirs(path)
    return path


def test_parsing_demo_targets_makes_nothing(data_dir, tmp_path):
    config = tmp_path / "syncsh.toml"
    config.write_text('[targets.backup]\nurl = "demo:cyrus-2"\n')
    for text in ("demo:cyrus-1", "demo:cyrus-2", "backup"):
        target = parse_target(text, options=TargetOptions(config_file=str(config)))
        assert os.listdir(data_dir) == []
        assert target.is_demo
        assert target.store_path == os.path.join(data_dir, "demo", text.replace(
            "backup", "cyrus-2").removeprefix("demo:"))


@pytest.mark.parametrize("in_process", [True, False])
def test_connecting_makes_the_pair_once(data_dir, in_process):
    from syncsh.connect import open_session
    target = parse_target("demo:cyrus-1")
    target.in_process = in_process           # the subprocess server opens the store too
    assert os.listdir(data_dir) == []
    session = open_session(target, learn=False)
    try:
        assert session.run("USER dpc22")[1].ok
        events, done = session.run("SELECT user.dpc22")
        assert done.ok and done.data.uidlast == demo.MASTER["uidlast"]
        session.run("ENDUSER")
    finally:
        session.close()
    store = os.path.join(data_dir, "demo", "cyrus-1", "store.sqlite3")
    made = os.stat(store).st_mtime_ns
    session = open_session(parse_target("demo:cyrus-1"), learn=False)
    session.close()
    assert os.stat(store).st_mtime_ns == made          # an existing pair is not made again


def test_reading_the_store_path_makes_the_pair(data_dir):
    """Whoever reads a demo store by its path (diff's master, replicate's same-store check,
    a recording's snapshot) finds it there."""
    target = parse_target("demo:cyrus-2")
    assert os.path.isfile(os.path.join(target.store, "store.sqlite3"))
    assert sorted(os.listdir(os.path.join(data_dir, "demo"))) == list(demo.NAMES)


def test_a_pair_the_caller_names_is_used_as_it_is(data_dir, tmp_path):
    """(replay's private pair: its caller makes it)"""
    pair = tmp_path / "pair"
    target = parse_target("demo:cyrus-1", demo_dir=str(pair))
    assert target.store == str(pair / "cyrus-1")
    assert not pair.exists() and os.listdir(data_dir) == []


def test_the_front_ends_still_find_the_pair(data_dir, tmp_path, monkeypatch):
    """In a data directory with no pair yet: diff reads the master's store by path,
    replicate compares its target's store with --master before connecting."""
    proc = syncsh("diff", "demo:cyrus-1", "demo:cyrus-2", "--user", "dpc22")
    assert proc.returncode == 1, proc.stderr.decode()          # the demo pair differs
    assert "dpc22" in proc.stdout.decode()
    other = tmp_path / "other"
    demo.init(str(other))
    monkeypatch.setenv("SYNCSH_DATA_DIR", str(tmp_path / "fresh"))
    proc = syncsh("replicate", "--master", str(other / "cyrus-1"), "-s", "demo:cyrus-2",
                  "-u", "dpc22")
    assert proc.returncode == 0, proc.stderr.decode()
    assert os.path.isfile(tmp_path / "fresh" / "demo" / "cyrus-2" / "store.sqlite3")
    proc = syncsh("demo", "path")
    assert proc.stdout.decode().strip() == str(tmp_path / "fresh" / "demo")
