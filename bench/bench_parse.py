"""Figure 2: parsing a 1M-message user_some reply (and a 1M-record GET FULLMAILBOX) into the
data model, served from a file behind exec:, against a bare loop that only splits lines."""

from __future__ import annotations

from common import Figure, best_of, cat_target, dlist_listing, legacy_listing

COUNT = 1_000_000


def split_only(path: str) -> None:
    with open(path, "rb") as handle:
        for line in handle.read().split(b"\r\n"):
            line.split(b" ")


def parse_all(path: str, command: str) -> int:
    from syncsh.connect import open_session
    from syncsh.targets import parse_target
    session = open_session(parse_target(cat_target(path)), learn=False)
    count = sum(1 for _ in session.execute(command))
    session.transport.close()
    return count


def measure() -> list[Figure]:
    figures = []
    for label, path, command in (
            ("parse 1M user_some", legacy_listing(COUNT), "USER_SOME big user.big"),
            ("parse 1M GET FULLMAILBOX", dlist_listing(COUNT), "GET FULLMAILBOX user.big")):
        baseline = best_of(lambda: split_only(path), 3)
        value = best_of(lambda: parse_all(path, command), 1)
        ratio = value / baseline
        figures.append(Figure(label, value, baseline, "s", "<= 3x a split loop", ratio <= 3.0))
    return figures


if __name__ == "__main__":
    for figure in measure():
        print(figure.row())
