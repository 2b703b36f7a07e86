"""Users and messages made through IMAP, the way mail arrives on a real server."""

from __future__ import annotations

import socket

PASSWORD = "secret"           # every fixture account's


class SeedError(RuntimeError):
    pass


def imap(port: int, user: str):
    import imaplib
    connection = imaplib.IMAP4("127.0.0.1", port)
    # imaplib writes a literal and its CRLF apart: without NODELAY each APPEND waits ~40 ms
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connection.login(user, PASSWORD)
    return connection


def append_messages(port: int, user: str, count: int, admin: str = "admin") -> None:
    """Create user.USER as the admin, then append `count` messages as the user, with a
    mix of flags (every 2nd \\Seen, 5th \\Flagged, 7th $Label1) and fixed dates."""
    import email.utils
    import imaplib
    admin_session = imap(port, admin)
    kind, data = admin_session.create(f"user.{user}")
    if kind != "OK" and b"exists" not in (data[0] or b"").lower():
        raise SeedError(f"CREATE user.{user}: {data!r}")
    admin_session.logout()
    owner = imap(port, user)
    start = int(owner.select("INBOX")[1][0])
    for number in range(start + 1, start + count + 1):
        when = 1_700_000_000 + number * 3600
        flags = [flag for every, flag in ((2, "\\Seen"), (5, "\\Flagged"), (7, "$Label1"))
                 if number % every == 0]
        body = f"This is test message {number} for {user}.\r\n" + \
            f"filler line {number}\r\n" * (number % 4)
        message = (f"From: Seeder <seeder@example.test>\r\nTo: {user}@example.test\r\n"
                   f"Subject: test message {number}\r\n"
                   f"Date: {email.utils.formatdate(when)}\r\n"
                   f"Message-ID: <seed-{user}-{number}@syncsh.test>\r\nMIME-Version: 1.0\r\n"
                   f"Content-Type: text/plain; charset=us-ascii\r\n\r\n{body}")
        kind, data = owner.append("INBOX", f"({' '.join(flags)})",
                                  imaplib.Time2Internaldate(when), message.encode())
        if kind != "OK":
            raise SeedError(f"APPEND for {user}: {data!r}")
    owner.logout()


def create_users(port: int, users: list[str], admin: str = "admin") -> None:
    """Many users at once, one message each, through one admin connection (Cyrus' admins
    may only administer a mailbox: the admin gives itself the right to append, then takes
    it back): what an audit of a whole server needs."""
    import imaplib
    session = imap(port, admin)
    try:
        for user in users:
            kind, data = session.create(f"user.{user}")
            if kind != "OK":
                raise SeedError(f"CREATE user.{user}: {data!r}")
            message = (f"From: Seeder <seeder@example.test>\r\nTo: {user}@example.test\r\n"
                       f"Subject: welcome {user}\r\nMessage-ID: <welcome-{user}@syncsh.test>"
                       f"\r\n\r\nWelcome, {user}.\r\n")
            session.setacl(f"user.{user}", admin, "lrswipkxtecda")
            kind, data = session.append(f"user.{user}", "()", imaplib.Time2Internaldate(
                1_700_000_000), message.encode())
            if kind != "OK":
                raise SeedError(f"APPEND to user.{user}: {data!r}")
            session.deleteacl(f"user.{user}", admin)
    finally:
        session.logout()
