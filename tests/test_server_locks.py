"""The reference server's user locks leave no file behind for a user the store does not
hold (a mistyped --user of a diff used to leave one per name in both stores), and a lock
file removed on release can never be held by two sessions at once."""

from __future__ import annotations

import os
import threading

import pytest

from conftest import server_argv, syncsh
from syncsh.server.session import OUT, ServerSession
from syncsh.server.store import Store, StoreError, UserLock


def lock_files(store_dir) -> list[str]:
    return sorted(bytes.fromhex(name).decode() for name in os.listdir(os.path.join(store_dir,
                                                                                 "locks")))


def talk(session: ServerSession, line: str) -> str:
    out = b"".join(p for channel, p in session.receive(line.encode() + b"\r\n") if channel == OUT)
    return out.decode().split("\r\n")[-2]


@pytest.fixture
def server(pair):
    store = Store(pair[0])
    session = ServerSession(store)
    yield session
    session.end()
    store.close()


@pytest.mark.parametrize("exec_targets", [True, False])
def test_a_diff_of_a_user_on_neither_end_leaves_no_lock_file(pair, exec_targets):
    if exec_targets:          # a server process per end, as for a pair of real hosts
        targets = ["exec:" + " ".join(server_argv(store)) for store in pair]
    else:                     # the user's demo pair, served inside the diff's own process
        from syncsh import demo
        targets = ["demo:cyrus-1", "demo:cyrus-2"]
        pair = [os.path.join(demo.pair_dir(), name) for name in demo.NAMES]
    proc = syncsh("diff", *targets, "--user", "nosuchuser", "--user", "dpc22")
    assert "nothing on either end for: nosuchuser" in proc.stderr.decode()
    for store in pair:        # the user the stores hold keeps its lock file, as Cyrus's do
        assert lock_files(store) == ["dpc22"]


def test_each_way_a_lock_is_let_go_removes_an_unheld_users_file(server, pair):
    assert talk(server, "USER ghost") == "OK Locked ghost"
    assert lock_files(pair[0]) == ["ghost"]
    assert talk(server, "ENDUSER") == "OK [CONTINUE] Unlocked ghost"
    assert lock_files(pair[0]) == []
    talk(server, "USER ghost")
    assert talk(server, "USER_SOME dpc22 user.dpc22") == "OK User_Some finished"  # another
    assert lock_files(pair[0]) == ["dpc22"]
    talk(server, "USER ghost")
    server.end()                                      # the connection gone without ENDUSER
    assert lock_files(pair[0]) == ["dpc22"]


def test_a_user_made_in_the_session_keeps_its_file_and_one_reset_away_loses_it(server, pair):
    assert talk(server, "USER newcomer") == "OK Locked newcomer"
    assert talk(server, "CREATE user.newcomer NIL NIL 0 1") == "OK Create completed"
    talk(server, "ENDUSER")
    assert lock_files(pair[0]) == ["newcomer"]
    assert talk(server, "RESET newcomer") == "OK Account reset"
    talk(server, "ENDUSER")
    assert lock_files(pair[0]) == []


def test_a_user_held_by_subscription_or_sieve_only_is_a_user(server, pair):
    store = server.store
    with store.write():
        store.subscribe("reader", "user.dpc22")
    assert store.holds_user("reader") and store.holds_user("dpc22")
    assert not store.holds_user("dpc2") and not store.holds_user("dpc222")
    talk(server, "USER reader")
    talk(server, "ENDUSER")
    assert lock_files(pair[0]) == ["reader"]


def test_a_waiter_never_holds_a_removed_lock_file(tmp_path, monkeypatch):
    """The holder removes the file between the waiter's open and its flock: the waiter must
    not keep the lock of a file no one else can find, while a third takes a new one."""
    (tmp_path / "locks").mkdir()
    holder, waiter, third = (UserLock(str(tmp_path), "ghost") for _ in range(3))
    holder.acquire(1)
    real_open = os.open

    def open_then_the_holder_leaves(*args, **kwargs):
        fd = real_open(*args, **kwargs)
        if holder.fd is not None:
            holder.release(remove=True)
        return fd
    monkeypatch.setattr(os, "open", open_then_the_holder_leaves)
    waiter.acquire(5)
    monkeypatch.setattr(os, "open", real_open)
    with pytest.raises(StoreError, match="held by another session"):
        third.acquire(0.2)
    waiter.release(remove=True)
    third.acquire(1)
    third.release()


def test_a_session_waiting_on_a_removed_file_gets_the_lock(tmp_path):
    (tmp_path / "locks").mkdir()
    holder, waiter = UserLock(str(tmp_path), "ghost"), UserLock(str(tmp_path), "ghost")
    holder.acquire(1)
    thread = threading.Thread(target=waiter.acquire, args=(10,))
    thread.start()
    holder.release(remove=True)
    thread.join(10)
    assert waiter.fd is not None
    with pytest.raises(StoreError):
        UserLock(str(tmp_path), "ghost").acquire(0.2)
    waiter.release(remove=True)
    assert os.listdir(tmp_path / "locks") == []
