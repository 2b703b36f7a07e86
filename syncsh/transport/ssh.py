"""SSH that behaves like OpenSSH, over paramiko (imported only when an SSH target opens).

It follows ~/.ssh/config (Host patterns, HostName, User, Port, IdentityFile,
IdentitiesOnly, UserKnownHostsFile, StrictHostKeyChecking, ProxyJump chains over
direct-tcpip, ProxyCommand, ServerAliveInterval/CountMax, ConnectTimeout), uses the
agent, asks for key passphrases at a prompt, and never trusts a host key silently: an
unknown key is refused unless the user accepts it at the prompt (typing yes, or the
fingerprint); a changed key is always refused, and a host offering a key of another type
than the ones on file is a changed key.  Identity files others can read are refused.
"""

from __future__ import annotations

import base64
import hashlib
import os
import select
import socket
import time
from dataclasses import dataclass, field

from syncsh.errors import ConnectionLost, SyncshError, UsageError

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


def _expand(path: str, host: Host | None = None) -> str:
    path = os.path.expanduser(path)
    if host is not None:
        path = path.replace("%h", host.hostname).replace("%p", str(host.port)) \
            .replace("%r", host.user or "").replace("%d", os.path.expanduser("~")) \
            .replace("%%", "%")
    return path


def _quiet_paramiko() -> None:
    """paramiko logs a failed handshake with a traceback; what went wrong is said in one
    line by us instead (--debug still shows our traceback)."""
    import logging
    logger = logging.getLogger("paramiko")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def load_config(path: str | None):
    import paramiko
    _quiet_paramiko()
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
    host.identity_files = [_expand(p) for p in found.get("identityfile", [])]
    host.identities_only = found.get("identitiesonly", "no").lower() == "yes"
    files = found.get("userknownhostsfile")
    host.known_hosts = [_expand(p) for p in files.split()] if files else \
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
        _warn(options, f"accepting the unknown host key of {host.key_name} ({what}): "
                       "StrictHostKeyChecking=no")
        return
    if host.strict == "accept-new":
        known.add(host.key_name, key, hashed=host.hash_known_hosts)
        _warn(options, f"added {host.key_name} ({what}) to {host.known_hosts[0]}")
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


def _warn(options: SSHOptions, text: str) -> None:
    if options.warn is not None:
        options.warn(text)


# ---------------------------------------------------------------------- connecting

def _socket_to(host: Host, timeout: float, via=None):
    """A connected byte stream to host: TCP, a ProxyCommand, or a direct-tcpip channel of
    the previous hop."""
    if via is not None:
        try:
            return via.open_channel("direct-tcpip", (host.hostname, host.port), ("127.0.0.1", 0),
                                    timeout=timeout)
        except Exception as exc:
            raise ConnectionLost(f"cannot reach {host.hostname}:{host.port} through the jump "
                                 f"host: {exc}") from None
    if host.proxy_command:
        import paramiko
        command = _expand(host.proxy_command, host)
        return paramiko.ProxyCommand(command)
    try:
        return socket.create_connection((host.hostname, host.port), timeout=timeout)
    except OSError as exc:
        raise ConnectionLost(f"cannot connect to {host.hostname} port {host.port}: "
                             f"{exc.strerror or exc}") from None


def _auth(transport, host: Host, options: SSHOptions) -> None:
    import paramiko
    user = host.user or os.environ.get("USER") or "root"
    tried = []
    keys = []
    if not host.identities_only:
        try:
            keys += list(paramiko.Agent().get_keys())
        except Exception:
            pass
    files = host.identity_files or ([] if host.identities_only else
                                    [os.path.expanduser(f"~/.ssh/{n}") for n in DEFAULT_IDENTITIES])
    for path in files:
        key = _load_key(path, options, host)
        if key is not None:
            keys.append(key)
    for key in keys:
        try:
            transport.auth_publickey(user, key)
            if transport.is_authenticated():
                return
        except paramiko.AuthenticationException:
            tried.append(key.get_name())
        except paramiko.SSHException as exc:
            raise ConnectionLost(f"SSH authentication to {host.alias} failed: {exc}") from None
    raise ConnectionLost(f"SSH authentication as {user} to {host.alias} failed"
                         + (f" (tried {len(tried)} key(s))" if tried else " (no usable key)"))


def _load_key(path: str, options: SSHOptions, host: Host):
    import paramiko
    if not os.path.exists(path):
        return None
    try:
        status = os.stat(path)
    except OSError:
        return None
    if status.st_uid == os.getuid() and status.st_mode & 0o077:
        # OpenSSH's rule and words: a private key others can read is not used
        _warn(options, f"UNPROTECTED PRIVATE KEY FILE! Permissions {status.st_mode & 0o777:04o} "
                       f"for '{path}' are too open. It is required that your private key "
                       "files are NOT accessible by others. This private key will be ignored.")
        return None
    try:
        return paramiko.PKey.from_path(path)
    except (paramiko.PasswordRequiredException, TypeError):
        # paramiko, or cryptography under it (TypeError), says the key is encrypted
        if not options.interactive or options.secret is None or host.batch:
            _warn(options, f"{path} is encrypted and there is no prompt to ask for its passphrase")
            return None
        passphrase = options.secret(f"Enter passphrase for key '{path}': ")
        if passphrase is None:           # abandoned: the key is not used
            return None
        try:
            return paramiko.PKey.from_path(path, passphrase.encode())
        except (paramiko.SSHException, ValueError, TypeError):
            _warn(options, f"wrong passphrase for {path}")
            return None
    except (paramiko.SSHException, OSError, ValueError) as exc:
        _warn(options, f"cannot use the key {path}: {exc}")
        return None


def connect(alias: str, options: SSHOptions, *, user: str | None = None, port: int | None = None,
            config=None, depth: int = 0, jumps: list[str] | None = None):
    """An authenticated paramiko Transport to alias, through its ProxyJump chain.

    ``ProxyJump a,b`` goes to a first, from a to b, from b to the host, as OpenSSH does: the
    host is reached through its last hop, which is reached through the hops before it
    (``jumps``, overriding that hop's own ProxyJump); the first hop follows its own config.
    The same hop may come twice."""
    import paramiko
    config = config if config is not None else load_config(options.config_file)
    host = resolve(alias, config, user=user, port=port)
    if host.ignored and options.warn is not None:
        options.warn(f"ssh config for {alias}: not honoured: {', '.join(host.ignored)}")
    if depth > 8:
        raise UsageError(f"ProxyJump chain too long at {alias}")
    hops = host.proxy_jump if jumps is None else jumps
    via = None
    if hops:
        hop_user, hop_host, hop_port = split_hostspec(hops[-1])
        via = connect(hop_host, options, user=hop_user, port=hop_port, config=config,
                      depth=depth + 1, jumps=hops[:-1] or None)
    timeout = host.connect_timeout or options.timeout
    try:
        sock = _socket_to(host, timeout, via)
        transport = paramiko.Transport(sock)
    except BaseException:
        _close_chain(via)
        raise
    transport.banner_timeout = timeout          # (paramiko's own is 15 s, whatever we say)
    _prefer_known_key_types(transport, KnownHosts(host.known_hosts).types(host.key_name))
    try:
        transport.start_client(timeout=timeout)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        transport.close()
        _close_chain(via)
        raise ConnectionLost(f"SSH handshake with {host.key_name} failed: "
                             f"{_handshake_problem(exc)}") from None
    try:
        try:
            server_key = transport.get_remote_server_key()
        except paramiko.SSHException:   # start_client gave up waiting without saying so
            transport.close()
            said = "no SSH banner" if not transport.remote_version else "no SSH handshake"
            raise ConnectionLost(f"SSH handshake with {host.key_name} failed: {said} within "
                                 f"{timeout:g}s (is an SSH server listening on that port?)") \
                from None
        check_host_key(host, server_key, options)
        _auth(transport, host, options)
    except BaseException:
        transport.close()
        _close_chain(via)
        raise
    if host.alive_interval:
        transport.set_keepalive(int(host.alive_interval))
    transport.syncsh_host = host
    transport.syncsh_via = via
    return transport


def _close_chain(via) -> None:
    while via is not None:
        following = getattr(via, "syncsh_via", None)
        via.close()
        via = following


def _handshake_problem(exc: BaseException) -> str:
    """What went wrong, in words: a port that accepts but never speaks SSH says nothing
    paramiko can name ("Error reading SSH protocol banner", or an empty EOFError)."""
    text = str(exc)
    if isinstance(exc, EOFError) or "protocol banner" in text or not text:
        return "no SSH banner (is an SSH server listening on that port?)"
    return text


def _prefer_known_key_types(transport, types: list[str]) -> None:
    """Negotiate a host key of a type on file first, as OpenSSH orders HostKeyAlgorithms:
    a server that has it is then checked against it, not against a type never seen."""
    if not types:
        return
    wanted = []
    for kind in types:
        wanted += ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if kind == "ssh-rsa" else [kind]
    options = transport.get_security_options()
    offered = list(options.key_types)
    first = [k for k in offered if k in wanted]
    if first:
        options.key_types = first + [k for k in offered if k not in first]


# ---------------------------------------------------------------------- the byte mover

class SSHTransport:
    """An exec channel: the remote command's stdin/stdout carry the protocol, its stderr
    goes to on_stderr.  Both are drained together, so big output never deadlocks."""

    def __init__(self, alias: str, command: str, options: SSHOptions, *, user=None, port=None,
                 on_stderr=None, name: str | None = None) -> None:
        self.name = name or alias
        self.on_stderr = on_stderr
        self.transport = connect(alias, options, user=user, port=port)
        host = self.transport.syncsh_host
        self.alive_interval = host.alive_interval
        self.alive_count = host.alive_count
        try:
            self.channel = self.transport.open_session(timeout=options.timeout)
            self.channel.exec_command(command)
        except Exception as exc:
            self.close()
            raise ConnectionLost(f"cannot run {command!r} on {alias}: {exc}") from None
        self._err_partial = b""
        self._last_heard = time.monotonic()

    def _drain_stderr(self) -> None:
        while self.channel.recv_stderr_ready():
            data = self.channel.recv_stderr(1 << 16)
            if not data:
                break
            lines = (self._err_partial + data).split(b"\n")
            self._err_partial = lines.pop()
            if len(self._err_partial) > 64 << 10:   # a diagnostic that never ends: in pieces
                lines.append(self._err_partial)
                self._err_partial = b""
            for line in lines:
                if self.on_stderr is not None:
                    self.on_stderr(line.rstrip(b"\r").decode("utf-8", "replace"))

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            self._drain_stderr()
            if self.channel.closed or not self.transport.is_active():
                raise ConnectionLost(f"the SSH connection to {self.name} was lost")
            try:
                sent = self.channel.send(view[:1 << 15])
            except OSError as exc:
                raise ConnectionLost(f"the SSH connection to {self.name} was lost: {exc}") from None
            if sent == 0:
                raise ConnectionLost(f"the SSH channel to {self.name} closed")
            view = view[sent:]

    def recv(self, timeout: float | None) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._drain_stderr()
            if self.channel.recv_ready():
                self._last_heard = time.monotonic()
                return self.channel.recv(1 << 16)
            if self.channel.eof_received:
                self._drain_stderr()
                return b""
            if not self.transport.is_active():
                raise ConnectionLost(f"the SSH connection to {self.name} was lost")
            if self.alive_interval and \
                    time.monotonic() - self._last_heard >= self.alive_interval:
                budget = self.alive_interval * self.alive_count
                if not self._peer_answers(budget):
                    raise ConnectionLost(f"{self.name} stopped answering: no reply to "
                                         f"keepalives for {budget:g}s")
                self._last_heard = time.monotonic()
            if deadline is not None and time.monotonic() >= deadline:
                raise ConnectionLost(f"no reply from {self.name} within {timeout:g}s")
            select.select([self.channel], [], [], 0.05)

    def _peer_answers(self, timeout: float) -> bool:
        """ServerAliveInterval/CountMax: a keepalive@openssh.com request the server must
        answer (a refusal is an answer); None within the budget means a dead peer."""
        import threading
        answered = threading.Event()

        def probe():
            try:
                self.transport.global_request("keepalive@openssh.com", wait=True)
            except Exception:
                return
            answered.set()

        threading.Thread(target=probe, daemon=True).start()
        return answered.wait(timeout)

    def close(self) -> None:
        channel = getattr(self, "channel", None)
        if channel is not None:
            try:
                channel.shutdown_write()
                end = time.monotonic() + 1.0
                while not channel.exit_status_ready() and time.monotonic() < end:
                    self._drain_stderr()
                    time.sleep(0.01)
                self._drain_stderr()
                channel.close()
            except Exception:
                pass
        via = getattr(self.transport, "syncsh_via", None)
        self.transport.close()
        while via is not None:
            nxt = getattr(via, "syncsh_via", None)
            via.close()
            via = nxt
