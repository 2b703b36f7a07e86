"""Users, their locks and the session: USER, USER_SOME, USER_ALL, ENDUSER, RESET, EXIT,
RESTART (and the 2005 dialect's AUTHENTICATE and STARTTLS)."""

from __future__ import annotations

from syncsh.protocol.wire import ATOM, LITERAL, STRING, astring, decode
from syncsh.server.args import Args, Bad, No
from syncsh.server.common import OUT, shown
from syncsh.server.registry import command


@command("USER")
def user(s, a: Args):
    user = a.astring()
    a.end()
    yield s.trace(f"USER {user}")
    s.take_user(user)
    yield OUT, b"OK Locked %s\r\n" % user.encode()


@command("USER_SOME")
def user_some(s, a: Args):
    user = a.astring()
    mailboxes = []
    if not a.more():
        raise a.missing()
    while a.more():
        a.space()
        token = a.take()
        if token is None or token.kind not in (ATOM, STRING, LITERAL):
            raise Bad(f"Syntax error in Status_Full at item {len(mailboxes) + 1}: "
                      "Invalid end of sequence")
        mailboxes.append(decode(token.value))
    if not a.at_end:
        raise Bad(f"Syntax error in Status_Full at item {len(mailboxes) + 1}: "
                  "Invalid end of sequence")
    yield s.trace(" ".join(["USER_SOME", user] + mailboxes))
    s.take_user(user)
    with s.store.read():
        for name in mailboxes:
            yield from s.dump_mailbox(name)
    yield OUT, b"OK User_Some finished\r\n"


@command("USER_ALL")
def user_all(s, a: Args):
    user = a.astring()
    a.end()
    yield s.trace(f"USER_ALL {user}")
    s.take_user(user)
    with s.store.read():
        names = s.store.user_mailbox_names(user)
        if not names or names[0] != "user." + user:
            raise No(f"IMAP_MAILBOX_NONEXISTENT Failed to access inbox for {shown(user)}: "
                     "Mailbox does not exist")
        for name in names:
            yield from s.dump_mailbox(name)
        for name in s.store.subscriptions(user):
            yield OUT, b"*** %s\r\n" % astring(name)
        for name, mtime, active in s.store.sieve_scripts(user):
            yield OUT, b"**** %s %d%s\r\n" % (astring(name), mtime, b" *" if active else b"")
        limit = s.store.quota("user." + user)
    yield OUT, b"OK %d\r\n" % (limit or 0)


@command("ENDUSER")
def enduser(s, a: Args):
    a.end()
    yield s.trace("ENDUSER")
    user = s.user
    s.release_user()
    state = b"CONTINUE"
    if s.staged_bytes > s.staging_limit:
        s.staged.clear()
        s.staged_bytes = 0
        state = b"RESTART"
    suffix = b" " + user.encode() if user else b""
    yield OUT, b"OK [%s] Unlocked%s\r\n" % (state, suffix)


@command("RESET")
def reset(s, a: Args):
    user = a.astring()
    a.end()
    yield s.trace(f"RESET {user}")
    s.take_user(user)
    with s.committed(f"Failed to reset account {shown(user)}"):
        s.store.reset_user(user)
    yield OUT, b"OK Account reset\r\n"


@command("EXIT")
def exit(s, a: Args):
    a.end()
    s.end()
    yield OUT, b"OK Finished\r\n"


@command("RESTART")
def restart(s, a: Args):
    a.end()
    s.release_user()
    s.staged.clear()
    s.staged_bytes = 0
    yield OUT, b"OK Restarting\r\n"


@command("AUTHENTICATE")
def authenticate(s, a: Args):
    a.astring()
    # The reference server is reached over stdin/stdout, authenticated by the transport.
    yield OUT, b"BAD Already authenticated\r\n"


@command("STARTTLS")
def starttls(s, a: Args):
    a.end()
    yield OUT, b"NO Error initializing TLS\r\n"
