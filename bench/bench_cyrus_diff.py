"""Figure 5: diff of an in-sync real Cyrus user with 10k messages: bytes read at most 2x
the two GET USER replies (the CRCs agree, so nothing more is fetched), and at most half the
time of what people do instead: IMAP UID FETCH 1:* (FLAGS MODSEQ) on both ends."""

from __future__ import annotations

import imaplib
import os
import sys
import time

from common import ROOT, Counting, Figure

sys.path.insert(0, os.path.join(ROOT, "tests"))
DIR, USER, COUNT = "/tmp/syncsh-bench-cp", "benchuser", 10_000


def sessions():
    from syncsh.session import Session
    from syncsh.targets import parse_target
    out = []
    for side in ("master", "replica"):
        target = parse_target(f"unix:{DIR}/{side}/run/socket/csync")
        transport = Counting(target.open())
        session = Session(transport, learn=False)
        session.open()
        out.append((session, transport))
    return out


def imap_fetch(pair) -> None:
    for port in (pair.master_imap, pair.replica_imap):
        conn = imaplib.IMAP4("127.0.0.1", port)
        conn.login(USER, "secret")
        conn.select("INBOX", readonly=True)
        typ, data = conn.uid("FETCH", "1:*", "(FLAGS MODSEQ)")
        assert typ == "OK" and len(data) >= COUNT
        conn.logout()


def measure() -> list[Figure]:
    if os.geteuid() != 0:
        return [Figure("diff of an in-sync Cyrus user", float("nan"), float("nan"), "B",
                       "<= 2x GET USER", None, "not measured: needs root (real Cyrus)")]
    from servers.cyrus import CyrusPair
    pair = CyrusPair(DIR)          # its data is kept between runs: seeding 10k takes a while
    try:
        return measure_on(pair)
    finally:
        pair.stop()


def measure_on(pair) -> list[Figure]:
    marker = os.path.join(DIR, "seeded")
    if not os.path.exists(marker):
        pair.seed(USER, COUNT)
        pair.run("sync", USER)
        open(marker, "w").close()
    from syncsh.diff.collect import Differ
    (m, mt), (r, rt) = sessions()
    m.run(f"GET USER {USER}")
    r.run(f"GET USER {USER}")
    get_user_bytes = mt.read + rt.read
    mt.read = rt.read = 0
    start = time.perf_counter()
    report = Differ(m, r).run([USER], [])
    diff_seconds = time.perf_counter() - start
    diff_bytes = mt.read + rt.read
    m.close()
    r.close()
    assert report.identical_users == [USER], report.findings[:3]
    start = time.perf_counter()
    imap_fetch(pair)
    imap_seconds = time.perf_counter() - start
    return [Figure("diff in-sync 10k user: bytes", diff_bytes, get_user_bytes, "B",
                   "<= 2x the two GET USER replies", diff_bytes <= 2 * get_user_bytes),
            Figure("diff in-sync 10k user: time", diff_seconds, imap_seconds, "s",
                   "<= 0.5x IMAP UID FETCH on both ends", diff_seconds <= 0.5 * imap_seconds)]


if __name__ == "__main__":
    for figure in measure():
        print(figure.row())
