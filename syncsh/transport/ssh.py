"""SSH that behaves like OpenSSH, over paramiko (imported only when an SSH target opens).

Connecting is here (the hop chain, authentication, keys, the byte stream); which host an
alias names and whether its key is trusted is in ssh_hosts.py.  It follows ~/.ssh/config (Host patterns, HostName, User, Port, IdentityFile,
IdentitiesOnly, UserKnownHostsFile, StrictHostKeyChecking, ProxyJump chains over
direct-tcpip, ProxyCommand, ServerAliveInterval/CountMax, ConnectTimeout), uses the
agent, asks for key passphrases at a prompt, and never trusts a host key silently: an
unknown key is refused unless the user accepts it at the prompt (typing yes, or the
fingerprint); a changed key is always refused, and a host offering a key of another type
than the ones on file is a changed key.  Identity files others can read are refused.
"""

from __future__ import annotations

import os
import select
import socket
import time

from syncsh.errors import ConnectionLost, UsageError
from syncsh.transport.ssh_hosts import (DEFAULT_IDENTITIES, Host, KnownHosts, SSHOptions,
                                        check_host_key, expand, load_config, resolve,
                                        split_hostspec, warn)

__all__ = ["SSHOptions", "SSHTransport", "connect"]


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
        command = expand(host.proxy_command, host)
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
        warn(options, f"UNPROTECTED PRIVATE KEY FILE! Permissions {status.st_mode & 0o777:04o} "
                       f"for '{path}' are too open. It is required that your private key "
                       "files are NOT accessible by others. This private key will be ignored.")
        return None
    try:
        return paramiko.PKey.from_path(path)
    except (paramiko.PasswordRequiredException, TypeError):
        # paramiko, or cryptography under it (TypeError), says the key is encrypted
        if not options.interactive or options.secret is None or host.batch:
            warn(options, f"{path} is encrypted and there is no prompt to ask for its passphrase")
            return None
        passphrase = options.secret(f"Enter passphrase for key '{path}': ")
        if passphrase is None:           # abandoned: the key is not used
            return None
        try:
            return paramiko.PKey.from_path(path, passphrase.encode())
        except (paramiko.SSHException, ValueError, TypeError):
            warn(options, f"wrong passphrase for {path}")
            return None
    except (paramiko.SSHException, OSError, ValueError) as exc:
        warn(options, f"cannot use the key {path}: {exc}")
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
