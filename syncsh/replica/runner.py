"""The one replicate run, whichever door asked for it (`syncsh replicate`, a transcript's
`$ replicate` line): what it does when a user fails is decided here and nowhere else."""

from __future__ import annotations

from typing import Callable

from syncsh.replica.engine import ReplicationFailed


def replicate(engine, *, users: list[str] | None = None, mailboxes: list[str] | None = None,
              report: Callable[[str], None]) -> bool:
    """Run one request on ``engine``; True when everything replicated.

    User mode goes on past a user the replica refused, as one user's trouble must not hold
    back every user after it: each failure is reported (``syncsh replicate: USER: why``)
    and the run fails at its end.  Once the connection is gone there is nothing to go on
    with: the users not tried are reported as such.  Mailbox mode is one request (the
    mailboxes are grouped by user and the groups depend on the order given): its first
    failure ends it."""
    if mailboxes:
        try:
            engine.replicate_mailboxes(mailboxes)
        except ReplicationFailed as exc:
            report(f"syncsh replicate: {exc}")
            return False
        return True
    ok = True
    for index, user in enumerate(users or []):
        if engine.session.closed:
            report(f"syncsh replicate: not tried (the connection is closed): "
                   f"{', '.join(users[index:])}")
            return False
        try:
            engine.user_mode_user(user)
        except ReplicationFailed as exc:
            report(f"syncsh replicate: {user}: {exc}")
            ok = False
    return ok
