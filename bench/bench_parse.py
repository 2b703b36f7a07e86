"""Figure 2: parsing a 1M-message user_some reply (and a 1M-record GET FULLMAILBOX) into the
data model, served from a file behind exec:, against a bare loop that only splits lines."""

from __future__ import annotations

import time

from common import Figure, cat_target, dlist_listing, legacy_listing, timings

COUNT = 1_000_000


def split_only(path: str) -> None:
    with open(path, "rb") as handle:
        for line in handle.read().split(b"\r\n"):
            line.split(b" ")


def parse_all(path: str, command: str) -> float:
    """Seconds from sending the command to its last event, every message in the model
    (the way the renderers and diff read a listing: runs of messages by column).  Starting
    the fake server and stopping it (its `sleep` waits out the transport's grace period on
    close) are not parsing, and stay outside the clock."""
    from syncsh.connect import open_session
    from syncsh.model import MessageBatch
    from syncsh.targets import parse_target
    session = open_session(parse_target(cat_target(path)), learn=False)
    start = time.perf_counter()
    count = 0
    for event in session.execute(command, batches=True):
        count += len(event) if isinstance(event, MessageBatch) else 1
    elapsed = time.perf_counter() - start
    session.transport.close()
    assert count > COUNT, count
    return elapsed


def measure() -> list[Figure]:
    figures = []
    for label, path, command in (
            ("parse 1M user_some", legacy_listing(COUNT), "USER_SOME big user.big"),
            ("parse 1M GET FULLMAILBOX", dlist_listing(COUNT), "GET FULLMAILBOX user.big")):
        # this machine's speed drifts by a third within a minute: take turns, best of three
        # each, so that both sides are timed in the same moments
        baselines, values = [], []
        for _ in range(3):
            baselines.append(timings(lambda: split_only(path), 1)[0])
            values.append(parse_all(path, command))
        baseline, value = min(baselines), min(values)
        ratio = value / baseline
        figures.append(Figure(label, value, baseline, "s", "<= 3x a split loop", ratio <= 3.0))
    return figures


if __name__ == "__main__":
    for figure in measure():
        print(figure.row())
