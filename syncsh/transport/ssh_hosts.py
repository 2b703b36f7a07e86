"""The hosts SSH goes to, as OpenSSH finds them: ~/.ssh/config's answer for an alias (Host
patterns, HostName, User, Port, IdentityFile, ProxyJump …), and whether the key a host
offers is trusted (known_hosts: an unknown key asked about or refused, a changed key or a
key of another type than the ones on file always refused)."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field

from syncsh.errors import SyncshError, UsageError

HONOURED = {"host", "match", "hostname", "user", "port", "identityfile", "identitiesonly",
            "userknownhostsfile", "stricthostkeychecking", "proxyjump", "proxycommand",
            "serveraliveinterval", "serveralivecountmax", "connecttimeout", "batchmode",
            "hashknownhosts", "forwardx11", "forwardagent", "loglevel", "compression",
            "addkeystoagent", "requesttty", "globalknownhostsfile", "preferredauthentications",
            "pubkeyauthentication", "passwordauthentication", "kbdinteractiveauthentication",
            "checkhostip", "visualhostkey", "updatehostkeys"}
DEFAULT_IDENTITIES = ("id_ed25519", "id_ecdsa", "id_rsa")


class HostKeyRefused(SyncshError):
    """An unknown or changed host key that was not accepted."""


@dataclass
class SSHOptions:
    config_file: str | None = None
    interactive: bool = False          # a person is at a prompt: ask, don't refuse
    ask=None                           # question -> the answer typed (None at end of input)
    secret=None                        # prompt -> str, for passphrases (no echo)
    warn=None                          # one-line warnings
    timeout: float = 30.0


@dataclass
class Host:
    alias: str
    hostname: str
    port: int = 22
    user: str | None = None
    identity_files: list[str] = field(default_factory=list)
    identities_only: bool = False
    known_hosts: list[str] = field(default_factory=list)
    strict: str = "ask"
    proxy_jump: list[str] = field(default_factory=list)
    proxy_command: str | None = None
    alive_interval: float = 0.0
    alive_count: int = 3
    connect_timeout: float | None = None
    batch: bool = False
    hash_known_hosts: bool = False
    ignored: list[str] = field(default_factory=list)

    @property
    def key_name(self) -> str:
        """How known_hosts names this host."""
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"


def fingerprint(key) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def expand(path: str, host: Host | None = None) -> str:
    path = os.path.expanduser(path)
    if host is not None:
        path = path.replace("%h", host.hostname).replace("%p", str(host.port)) \
            .replace("%r", host.user or "").replace("%d", os.path.expanduser("~")) \
            .replace("%%", "%")
    return path


def quiet_paramiko() -> None:
    """paramiko logs a failed handshake with a traceback; what went wrong is said in one
    line by us instead (--debug still shows our traceback)."""
    import logging
    logger = logging.getLogger("paramiko")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def load_config(path: str | None):
    import paramiko
    quiet_paramiko()
    if path is None:
        default = os.path.expanduser("~/.ssh/config")
        path = default if os.path.exists(default) else None
    if path is None:
        return paramiko.SSHConfig()
    try:
        return paramiko.SSHConfig.from_path(path)
    except OSError as exc:
        raise UsageError(f"cannot read ssh config {path}: {exc.strerror}") from None
    except Exception as exc:          # paramiko's parser raises plain exceptions
        raise UsageError(f"bad ssh config {path}: {exc}") from None


def resolve(alias: str, config, *, user: str | None = None, port: int | None = None) -> Host:
    """What OpenSSH would use for `ssh [user@]alias[:port]`."""
    found = config.lookup(alias)
    host = Host(alias, found.get("hostname", alias))
    host.port = port or int(found.get("port", 22))
    host.user = user or found.get("user")
    host.identity_files = [expand(p) for p in found.get("identityfile", [])]
    host.identities_only = found.get("identitiesonly", "no").lower() == "yes"
    files = found.get("userknownhostsfile")
    host.known_hosts = [expand(p) for p in files.split()] if files else \
        [os.path.expanduser("~/.ssh/known_hosts")]
    host.strict = found.get("stricthostkeychecking", "ask").lower()
    jump = found.get("proxyjump")
    host.proxy_jump = [j.strip() for j in jump.split(",") if j.strip()] \
        if jump and jump.lower() != "none" else []
    command = found.get("proxycommand")
    host.proxy_command = command if command and command.lower() != "none" else None
    host.alive_interval = float(found.get("serveraliveinterval", 0) or 0)
    host.alive_count = int(found.get("serveralivecountmax", 3) or 3)
    if "connecttimeout" in found:
        host.connect_timeout = float(found["connecttimeout"])
    host.batch = found.get("batchmode", "no").lower() == "yes"
    host.hash_known_hosts = found.get("hashknownhosts", "no").lower() == "yes"
    host.ignored = sorted(k for k in found if k not in HONOURED)
    return host


def split_hostspec(spec: str) -> tuple[str | None, str, int | None]:
    """[user@]host[:port] as ProxyJump writes it."""
    user, _, rest = spec.rpartition("@")
    port = None
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        if tail.startswith(":"):
            port = int(tail[1:])
    elif rest.count(":") == 1:
        host, _, number = rest.partition(":")
        port = int(number) if number else None
    else:
        host = rest
    return user or None, host, port


# ---------------------------------------------------------------------- host keys

class KnownHosts:
    def __init__(self, files: list[str]) -> None:
        import paramiko
        self.files = files
        self.keys = paramiko.HostKeys()
        for path in files:
            if os.path.exists(path):
                try:
                    self.keys.load(path)
                except (OSError, Exception):
                    pass

    def check(self, name: str, key) -> tuple[str, object]:
        """("known" | "unknown" | "changed", the key on file it conflicts with, if any)."""
        entries = self.keys.lookup(name)
        if not entries:
            return "unknown", None
        known = entries.get(key.get_name())
        if known is None:
            # keys of other types on file, none of this one: a server that now offers
            # only another type may be someone else (a downgrade), so it is a changed key
            return "changed", entries[entries.keys()[0]]
        return ("known", known) if known == key else ("changed", known)

    def types(self, name: str) -> list[str]:
        """The key types on file for name (negotiation prefers them, as OpenSSH does)."""
        entries = self.keys.lookup(name)
        return list(entries.keys()) if entries else []

    def add(self, name: str, key, *, hashed: bool) -> None:
        import paramiko
        path = self.files[0]
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        entry_name = paramiko.HostKeys.hash_host(name) if hashed else name
        with open(path, "a", encoding="ascii") as handle:
            handle.write(f"{entry_name} {key.get_name()} {key.get_base64()}\n")


def check_host_key(host: Host, key, options: SSHOptions) -> None:
    known = KnownHosts(host.known_hosts)
    state, on_file = known.check(host.key_name, key)
    what = f"{key.get_name()} {fingerprint(key)}"
    if state == "known":
        return
    if state == "changed":
        raise HostKeyRefused(
            f"REMOTE HOST IDENTIFICATION HAS CHANGED (HOST KEY CHANGED) for {host.key_name}: "
            f"it now offers {what}, but {host.known_hosts[0]} has {on_file.get_name()} "
            f"{fingerprint(on_file)}; refusing to connect (someone may be intercepting the "
            "connection)")
    if host.strict in ("no", "off"):
        warn(options, f"accepting the unknown host key of {host.key_name} ({what}): "
                       "StrictHostKeyChecking=no")
        return
    if host.strict == "accept-new":
        known.add(host.key_name, key, hashed=host.hash_known_hosts)
        warn(options, f"added {host.key_name} ({what}) to {host.known_hosts[0]}")
        return
    if options.interactive and options.ask is not None and host.strict != "yes" and not host.batch:
        if _confirmed(options, f"The authenticity of host {host.key_name} can't be "
                               f"established.\n{key.get_name()} key fingerprint is "
                               f"{fingerprint(key)}.\nAre you sure you want to continue "
                               "connecting (yes/no/[fingerprint])? ", fingerprint(key)):
            known.add(host.key_name, key, hashed=host.hash_known_hosts)
            return
        raise HostKeyRefused(f"host key of {host.key_name} not accepted ({what})")
    raise HostKeyRefused(f"unknown host key for {host.key_name}: {what} is not in "
                         f"{host.known_hosts[0]}; connect at the prompt to accept it, or add it")


def _confirmed(options: SSHOptions, question: str, expected_fingerprint: str) -> bool:
    """OpenSSH's question: 'yes' or the key's fingerprint accepts, 'no' (or the end of
    input) refuses, anything else ('y' included) is asked again."""
    while True:
        answer = options.ask(question)
        if answer is None:
            return False
        answer = answer.strip()
        if answer.lower() == "yes" or answer == expected_fingerprint:
            return True
        if answer.lower() == "no":
            return False
        question = "Please type 'yes', 'no' or the fingerprint: "


def warn(options: SSHOptions, text: str) -> None:
    if options.warn is not None:
        options.warn(text)
