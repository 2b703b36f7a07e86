"""Where a whole-server audit gets its users: neither replication dialect can list them.

In order of preference: a ``cyrus:CONF`` master read locally (``ctl_mboxlist -d``, no
IMAP), an admin IMAP ``LIST`` of the user namespace (``imap://`` with STARTTLS when offered,
``imaps://``), or for the documented dialect the master store's own mailbox list. Each
source yields user names lazily, in the order the server lists them (each once: one INBOX a
user), so that memory does not grow with the number of users."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from collections.abc import Iterable, Iterator
from urllib.parse import unquote, urlsplit

from syncsh.errors import ConnectionLost, UsageError

CTL_MBOXLIST = "/usr/lib/cyrus/bin/ctl_mboxlist"
# a top-level user mailbox in ctl_mboxlist -d's dump: "user.alice": {...}
_DUMPED = re.compile(r'^"user\.([^".]+)":')


def user_of_inbox(name: str, separator: str = ".") -> str | None:
    """``user.alice`` -> ``alice``; a sub-folder or another namespace -> None."""
    prefix = f"user{separator}"
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix):]
    return rest if rest and separator not in rest else None


def from_cyrus_conf(conf: str) -> Iterator[str]:
    """The users of this host's Cyrus, read from its mailboxes database (as root, the
    reading runs as the cyrus user, as Cyrus' own tools must)."""
    argv = [CTL_MBOXLIST, "-C", conf, "-d"]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "cyrus", "--", *argv]
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, errors="replace")
    except OSError as exc:
        raise ConnectionLost(f"cannot run {CTL_MBOXLIST}: {exc.strerror}") from None
    with proc:
        for line in proc.stdout:
            match = _DUMPED.match(line)
            if match:
                yield match.group(1)
        error = proc.stderr.read().strip()
    if proc.returncode:
        raise ConnectionLost(f"ctl_mboxlist -C {conf} failed: "
                             f"{error.splitlines()[-1] if error else f'exit {proc.returncode}'}")


def from_store(directory: str) -> Iterator[str]:
    """The documented dialect: the reference server's store lists its mailboxes."""
    from syncsh.server.store import Store
    store = Store(directory)
    try:
        rows = store.db.execute("SELECT name FROM mailbox WHERE name LIKE 'user.%' ORDER BY name")
        for (name,) in rows:
            user = user_of_inbox(name)
            if user is not None:
                yield user
    finally:
        store.close()


def from_imap(url: str, *, password: str, timeout: float = 30.0,
              insecure: bool = False) -> Iterator[str]:
    """An admin's IMAP LIST of the user namespace (``imap://admin@host[:port]``, STARTTLS
    when the server offers it; ``imaps://`` for TLS from the start)."""
    import imaplib
    import ssl
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise UsageError(f"{url}: expected imap://ADMIN@HOST[:PORT] or imaps://…")

    def context():          # made only for TLS: loading the CA certificates takes ~50 ms
        made = ssl.create_default_context()
        if insecure:
            made.check_hostname = False
            made.verify_mode = ssl.CERT_NONE
        return made

    try:
        if parts.scheme == "imaps":
            client = imaplib.IMAP4_SSL(parts.hostname, parts.port or 993,
                                       ssl_context=context(), timeout=timeout)
        else:
            client = imaplib.IMAP4(parts.hostname, parts.port or 143, timeout=timeout)
            if "STARTTLS" in client.capabilities:
                client.starttls(context())
            elif not _loopback(parts.hostname):
                client.shutdown()
                raise ConnectionLost(f"{url} offers no STARTTLS: the password is not sent "
                                     "in clear to another host (use imaps://)")
        client.login(unquote(parts.username), password)
        kind, data = client.list('""', '""')
        separator = _separator(data[0] if data else b"")
        kind, data = client.list('""', f"user{separator}%")
        client.logout()
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ConnectionLost(f"{url}: cannot list the users: {exc}") from None
    if kind != "OK":
        raise ConnectionLost(f"{url}: LIST answered {kind}")
    for entry in data:
        name = _listed_name(entry)
        user = user_of_inbox(name, separator) if name else None
        if user is not None:
            yield user


def _loopback(host: str) -> bool:
    import ipaddress
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _separator(entry: bytes) -> str:
    match = re.search(rb'\) "(.)"', entry or b"")
    return match.group(1).decode() if match else "."


def _listed_name(entry) -> str | None:
    """The mailbox name of one LIST reply (quoted or an atom)."""
    if isinstance(entry, tuple):            # a name sent as a literal
        return entry[1].decode("utf-8", "replace")
    match = re.match(rb'\([^)]*\) (?:"(?:\\.|[^"])*"|NIL) (.*)$', entry or b"")
    if not match:
        return None
    name = match.group(1)
    if name.startswith(b'"') and name.endswith(b'"'):
        name = re.sub(rb'\\(.)', rb"\1", name[1:-1])
    return name.decode("utf-8", "replace")


def excluding(users: Iterable[str], patterns: list[str]) -> Iterator[str]:
    """Users matching none of the shell patterns (``--exclude 'test*'``)."""
    for user in users:
        if not any(fnmatch.fnmatchcase(user, pattern) for pattern in patterns):
            yield user
