"""Figure 7: the reference server: UPLOAD of 10k messages (20 KB on average) against the
raw SQLite insert rate of the same rows; USER_SOME on a 100k-message mailbox."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time

from common import DATA, Figure

COUNT = 10_000


def bodies():
    import random
    rng = random.Random(1)
    for uid in range(1, COUNT + 1):
        size = rng.randint(2_000, 38_000)
        yield uid, b"Subject: m%d\r\n\r\n" % uid + b"x" * size


def upload(directory: str) -> float:
    from syncsh.server.session import ServerSession
    from syncsh.server.store import Store
    shutil.rmtree(directory, ignore_errors=True)
    store = Store(directory)
    session = ServerSession(store)
    list(session.receive(b"USER u\r\nCREATE user.u NIL NIL 0 1\r\nSELECT user.u\r\n"))
    start = time.perf_counter()
    batch = []
    for uid, body in bodies():
        batch.append(b"SIMPLE %024x %d 1 1 1 () {%d+}\r\n%s" % (uid, uid, len(body), body))
        if len(batch) == 500:
            out = b"".join(p for c, p in session.receive(b"UPLOAD %d 1 " % uid + b" ".join(batch)
                                                         + b"\r\n") if c == 1)
            assert out.startswith(b"OK"), out
            batch = []
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed


def raw_sqlite(directory: str) -> float:
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    db = sqlite3.connect(os.path.join(directory, "raw.sqlite3"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE m (uid INTEGER PRIMARY KEY, guid TEXT, flags TEXT, body BLOB)")
    start = time.perf_counter()
    rows = []
    for uid, body in bodies():
        rows.append((uid, "%024x" % uid, "", body))
        if len(rows) == 500:
            db.execute("BEGIN")
            db.executemany("INSERT INTO m VALUES (?,?,?,?)", rows)
            db.execute("COMMIT")
            rows = []
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def user_some_100k() -> tuple[float, float]:
    from syncsh.server.session import ServerSession
    from syncsh.server.store import NewMessage, Store
    directory = os.path.join(DATA, "store100k")
    if not os.path.exists(os.path.join(directory, "done")):
        shutil.rmtree(directory, ignore_errors=True)
        store = Store(directory)
        with store.write():
            store.create_mailbox("user.big", "0123456789abcdef", "big\tlrswipcda\t", 0, 1)
            box = store.mailbox("user.big")
            store.add_messages(box, [NewMessage(i, "%024x" % i, (), 1, 1, 1, b"x", 1, 0)
                                     for i in range(1, 100_001)])
            store.set_uidlast(box, 100_000, 1)
        store.close()
        open(os.path.join(directory, "done"), "w").close()
    store = Store(directory)
    session = ServerSession(store)
    start = time.perf_counter()
    size = sum(len(p) for c, p in session.receive(b"USER_SOME big user.big\r\n") if c == 1)
    elapsed = time.perf_counter() - start
    session.end()
    store.close()
    # baseline: the same rows read straight from SQLite
    db = sqlite3.connect(os.path.join(directory, "store.sqlite3"))
    start = time.perf_counter()
    rows = db.execute("SELECT uid, guid, flags FROM message ORDER BY uid").fetchall()
    base = time.perf_counter() - start
    db.close()
    assert size > 100_000 * 30 and len(rows) == 100_000
    return elapsed, base


def measure() -> list[Figure]:
    ours = upload(os.path.join(DATA, "upload"))
    raw = raw_sqlite(os.path.join(DATA, "raw"))
    rate = raw / ours
    figures = [Figure("UPLOAD 10k x 20 KB", ours, raw, "s", ">= 50% of raw SQLite inserts",
                      rate >= 0.5, f"{100 * rate:.0f}% of the raw rate")]
    elapsed, base = user_some_100k()
    figures.append(Figure("USER_SOME of 100k messages", elapsed, base, "s", "about 1 s or less",
                          elapsed <= 1.2, "baseline: SELECT of the same rows"))
    return figures


if __name__ == "__main__":
    for figure in measure():
        print(figure.row())
