"""Opening a session on a target: transport, banner, and for a replication port the
login (STARTTLS when offered, SASL, COMPRESS DEFLATE), so that every command starts from
a session that is ready."""

from __future__ import annotations

import os

from syncsh.errors import ConnectionLost, SyncshError, UsageError
from syncsh.session import Session


def password_for(target) -> str:
    """From --password-file, SYNCSH_PASSWORD, or a prompt without echo; never argv."""
    options = target.options
    if not options.credentials:
        raise UsageError(f"{target.text} asks for a password, and a transcript chose it: no "
                         "credentials go to a target the user did not name (--host NAME=TARGET)")
    if options.password_file:
        try:
            with open(options.password_file, encoding="utf-8") as handle:
                return handle.read().rstrip("\r\n")
        except OSError as exc:
            raise UsageError(f"cannot read {options.password_file}: {exc.strerror}") from None
    if os.environ.get("SYNCSH_PASSWORD"):
        return os.environ["SYNCSH_PASSWORD"]
    if options.interactive and options.secret is not None:
        return options.secret(f"Password for {target.user}@{target.host}: ")
    raise UsageError(f"{target.text} needs a password: --password-file FILE or SYNCSH_PASSWORD")


def open_session(target, *, timeout: float = 30.0, dialect: str | None = None, on_stderr=None,
                 on_wire=None, server_verbosity: int = 0, learn: bool = True,
                 gate=None) -> Session:
    """``gate``: the door's guard policy (guard.Gate); without one, writes to anything but
    a demo target are refused (a door that writes says so)."""
    from syncsh import guard
    transport = target.open(on_stderr=on_stderr, server_verbosity=server_verbosity)
    session = Session(transport, timeout=timeout, dialect=dialect, on_wire=on_wire,
                      target=target.text, learn=learn,
                      gate=gate or guard.Gate(target, door="session"))
    try:
        session.open()
        if target.needs_login:
            login(session, target)
    except BaseException:
        session.close()
        raise
    return session


def _capabilities(session) -> dict[str, list[str]]:
    caps = {}
    for line in session.banner.capabilities:
        name, *params = line.split()
        caps[name.upper()] = params
    return caps


def login(session: Session, target) -> None:
    from syncsh.protocol import sasl
    options = target.options
    caps = _capabilities(session)
    if "STARTTLS" in caps:
        starttls(session, target)
        caps = _capabilities(session)
    if "SASL" not in caps:
        return                                    # pre-authenticated
    mech = sasl.choose(caps["SASL"], options.sasl_mech)
    password = password_for(target)
    done = session.authenticate(mech, target.user, password)
    if not done.ok:
        raise ConnectionLost(f"login as {target.user} to {target.text} failed: "
                             f"{done.status} {done.text}")
    session.login = target.user
    if "COMPRESS" in caps and options.compress:
        done = session.run("COMPRESS DEFLATE")[1]
        if done.ok:
            session.transport.start_compression()
    done = session.run("NOOP")[1]
    if not done.ok and "Permission denied" in done.text:
        raise ConnectionLost(f"{target.user} logged in to {target.text} but is not a Cyrus "
                             "administrator: every command answers NO Permission denied")


def starttls(session: Session, target) -> None:
    import ssl
    done = session.run("STARTTLS")[1]
    if not done.ok:
        raise ConnectionLost(f"STARTTLS refused by {target.text}: {done.status} {done.text}")
    context = ssl.create_default_context()
    if target.options.insecure:
        target.options.warn(f"{target.text}: TLS certificate not verified (--insecure)")
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    session.transport.start_tls(context, None if target.options.insecure else target.host)
    # the server greets again after the handshake
    session.banner = None
    from syncsh.protocol.legacy import ClientConnection
    session.conn = ClientConnection(session.dialect)
    session.open()


__all__ = ["open_session", "password_for", "SyncshError"]
