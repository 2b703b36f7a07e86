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
    environ = os.environ if options.environ is None else options.environ
    if environ.get("SYNCSH_PASSWORD"):
        return environ["SYNCSH_PASSWORD"]
    if options.interactive and options.secret is not None:
        answer = options.secret(f"Password for {target.user}@{target.host}: ")
        if not answer:           # Ctrl-C, Ctrl-D or nothing typed: nothing is sent
            raise UsageError(f"no password given for {target.user}@{target.host}: not "
                             "connected")
        return answer
    raise UsageError(f"{target.text} needs a password: --password-file FILE or SYNCSH_PASSWORD")


def open_session(target, *, timeout: float = 30.0, dialect: str | None = None, on_stderr=None,
                 on_wire=None, server_verbosity: int = 0, learn: bool = True,
                 gate=None) -> Session:
    """``gate``: the door's guard policy (guard.Gate); without one, writes to anything but
    a demo target are refused (a door that writes says so)."""
    from syncsh import guard
    target.ensure_store()            # the user's demo pair is made here, on first connection
    transport = target.open(on_stderr=on_stderr, server_verbosity=server_verbosity)
    options = target.options
    session = Session(transport, timeout=timeout, dialect=dialect, on_wire=on_wire,
                      target=target.text, learn=learn, deadline=options.deadline,
                      max_line=options.max_line, max_greeting_lines=options.max_greeting_lines,
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


TLS_MODES = ("require", "prefer", "off")
_CLEAR_TEXT = ("PLAIN", "LOGIN")                  # mechanisms that send the password itself


def login(session: Session, target) -> None:
    """STARTTLS as --tls says (libpq's sslmode: require, prefer, off), then SASL.

    require: no STARTTLS offered (or the offer stripped on the way) is refused before any
    credential is sent.  prefer (the default): TLS whenever offered; without it, a password
    goes in clear (PLAIN, LOGIN) only to a loopback address.  off: never TLS, nothing
    refused.  SCRAM is chosen whenever offered: it never sends the password."""
    from syncsh.protocol import sasl
    options = target.options
    mode = options.tls or "prefer"
    caps = _capabilities(session)
    encrypted = False
    if "STARTTLS" in caps and mode != "off":
        starttls(session, target)
        caps = _capabilities(session)
        encrypted = True
    elif mode == "require":
        raise ConnectionLost(f"{target.text} offers no STARTTLS and --tls require is set: "
                             "nothing was sent (the offer may have been removed on the way)")
    if "SASL" not in caps:
        return                                    # pre-authenticated
    mech = sasl.choose(caps["SASL"], options.sasl_mech)
    if not encrypted and mode == "prefer" and mech in _CLEAR_TEXT and \
            not _peer_is_loopback(session, target):
        raise ConnectionLost(f"{target.text} offers no STARTTLS and is not a loopback address: "
                             f"SASL {mech} would send the password in clear, so nothing was "
                             "sent (--tls off allows it; --tls require insists on TLS)")
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


def _peer_is_loopback(session: Session, target) -> bool:
    """Whether the connection ends on this machine's loopback: the socket's peer, or where
    the jump host connects to (--via)."""
    import ipaddress
    import socket
    sock = getattr(session.transport, "sock", None)
    address = target.host
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            address = sock.getpeername()[0]
        except OSError:
            return False
    elif address == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False                              # a host name seen from a jump host
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


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
    session.conn = session.new_codec(session.dialect)
    session.open()


__all__ = ["open_session", "password_for", "SyncshError"]
