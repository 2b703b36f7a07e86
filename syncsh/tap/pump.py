"""Moving the bytes: a TCP listener whose connections each get two threads (one per
direction), or one child command on stdin/stdout (--exec).  Everything the relay decodes
goes to the sinks (the live view, the record) under one lock per connection.

A side that ends (EOF or an error) ends the other side's connection too, as a network
failure would, and the relay records which side it was."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

from syncsh.errors import ConnectionLost, UsageError
from syncsh.status import ExitStatus
from syncsh.tap import events as ev
from syncsh.tap.relay import Relay

CHUNK = 1 << 18


class Upstream:
    """Where each connection is forwarded: csync://host[:port] or unix:/path."""

    def __init__(self, text: str, timeout: float = 30.0) -> None:
        from syncsh.targets import CSYNC_PORT, _authority
        self.text, self.timeout = text, timeout
        self.user = None
        if text.startswith("csync://"):
            user, host, port, path = _authority(text, text[len("csync://"):])
            if path:
                raise UsageError(f"bad target {text!r}: csync:// takes no path")
            self.kind, self.host, self.port, self.user = "tcp", host, port or CSYNC_PORT, user
        elif text.startswith("unix:") and len(text) > 5:
            self.kind, self.host, self.port = "unix", text[5:], None
        else:
            raise UsageError(f"bad target {text!r}: the tap forwards to csync://HOST[:PORT] or "
                             "unix:/PATH")

    def connect(self) -> socket.socket:
        try:
            if self.kind == "tcp":
                sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            else:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout)
                sock.connect(self.host)
        except OSError as exc:
            raise ConnectionLost(f"cannot connect to {self.text}: {exc.strerror or exc}") from None
        sock.settimeout(None)
        return sock


class Tls:
    """--tls-cert/--tls-key: the tap ends TLS from the client and opens TLS to the server,
    verifying it as csync:// does (the system's CAs and the host name; --insecure not)."""

    def __init__(self, cert: str, key: str, server_name: str | None, insecure: bool,
                 warn) -> None:
        import ssl
        self.server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            self.server_side.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"cannot load --tls-cert/--tls-key: {exc}") from None
        self.client_side = ssl.create_default_context()
        self.server_name = server_name
        if insecure:
            warn("the server's TLS certificate is not verified (--insecure)")
            self.client_side.check_hostname = False
            self.client_side.verify_mode = ssl.CERT_NONE


class Connection:
    """One client and its forwarded connection: two threads, one relay."""

    def __init__(self, conn: int, client, server, relay: Relay, sinks, *, peer: str,
                 target: str, tls: Tls | None = None) -> None:
        self.conn, self.client, self.server = conn, client, server
        self.relay, self.sinks, self.tls = relay, sinks, tls
        self.lock = threading.Lock()
        self.start = time.monotonic()
        self.switched = threading.Event()     # STARTTLS decided (for --tls-cert)
        self.ended = threading.Event()
        self.threads: list[threading.Thread] = []
        with self.lock:
            relay.opened(0.0, peer, target, time.time())
            self._emit()

    def now(self) -> float:
        return time.monotonic() - self.start

    def _emit(self) -> None:
        for event in self.relay.events():
            for sink in self.sinks:
                sink(event)

    def begin(self) -> None:
        for name, loop in (("client", self._client_loop), ("server", self._server_loop)):
            thread = threading.Thread(target=loop, name=f"tap-{self.conn}-{name}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def join(self, timeout: float | None = None) -> None:
        for thread in self.threads:
            thread.join(timeout)

    @property
    def done(self) -> bool:
        return all(not thread.is_alive() for thread in self.threads)

    # ------------------------------------------------------------------ loops
    def _client_loop(self) -> None:
        why = ""
        while True:
            try:
                data = self.client.recv(CHUNK)
            except OSError as exc:
                data, why = b"", str(exc.strerror or exc)
            if not data:
                break
            # read before it is forwarded: the command must be known before its reply
            with self.lock:
                self.relay.from_client(data, self.now())
                waiting_tls = self.tls is not None and self.relay.switching == "STARTTLS"
            try:
                self.server.sendall(data)
            except OSError as exc:
                self.end(ev.SERVER, f"sending to it failed: {exc.strerror or exc}")
                return
            with self.lock:
                self._emit()
            if waiting_tls:
                self.switched.wait()
        self.end(ev.CLIENT, why)

    def _server_loop(self) -> None:
        why = ""
        while True:
            try:
                data = self.server.recv(CHUNK)
            except OSError as exc:
                data, why = b"", str(exc.strerror or exc)
            if not data:
                break
            # read before it is forwarded: the client's next command may depend on it
            with self.lock:
                forward = self.relay.from_server(data, self.now())
                starttls = self.tls is not None and self.relay.tls_started and \
                    not self.switched.is_set()
            try:
                if forward:
                    self.client.sendall(forward)
            except OSError as exc:
                self.end(ev.CLIENT, f"sending to it failed: {exc.strerror or exc}")
                return
            with self.lock:
                self._emit()
            if starttls:
                self._start_tls()
        self.end(ev.SERVER, why)

    def _start_tls(self) -> None:
        """Both handshakes, once the server has said OK to STARTTLS."""
        try:
            self.server = self.tls.client_side.wrap_socket(
                self.server, server_hostname=self.tls.server_name)
            self.client = self.tls.server_side.wrap_socket(self.client, server_side=True)
        except OSError as exc:
            self.switched.set()
            self.end(ev.TAP, f"TLS failed: {exc}")
            return
        self.switched.set()

    def end(self, side: str, why: str) -> None:
        """One side ended: end the other, as a network failure would."""
        with self.lock:
            self.relay.closed(side, why, self.now())
            self._emit()
        self.switched.set()
        self.ended.set()
        for sock in (self.client, self.server):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        for sock in (self.client, self.server):
            try:
                sock.close()
            except OSError:
                pass


def listen(address: str) -> socket.socket:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen {address!r}: expected HOST:PORT (a port 0 to 65535)")
    host = host.strip("[]") or "127.0.0.1"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
    except OSError as exc:
        sock.close()
        raise UsageError(f"--listen {address}: {exc.strerror or exc}") from None
    sock.listen(16)
    return sock


def serve(listener: socket.socket, upstream: Upstream, make_sinks, *, relay_options: dict,
          tls: Tls | None = None, connections: int | None = None, say=None) -> int:
    """Accept until Ctrl-C (or ``connections`` have ended); each connection concurrently."""
    live: list[Connection] = []
    count = 0
    try:
        while connections is None or count < connections:
            client, address = listener.accept()
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            count += 1
            peer = f"{address[0]}:{address[1]}"
            try:
                server = upstream.connect()
            except ConnectionLost as exc:
                if say:
                    say(f"[{count}] {exc}: the client's connection is closed")
                client.close()
                continue
            relay = Relay(count, tls_terminated=tls is not None, **relay_options)
            connection = Connection(count, client, server, relay, make_sinks(count), peer=peer,
                                    target=upstream.text, tls=tls)
            connection.begin()
            for ended in [c for c in live if c.done]:
                ended.close()
            live = [c for c in live if not c.done] + [connection]
        listener.close()                  # no more: later clients are refused, not queued
        for connection in live:
            connection.join()
    except KeyboardInterrupt:
        listener.close()
        for connection in live:
            if not connection.done:
                connection.end(ev.TAP, "the tap was stopped (Ctrl-C)")
        for connection in live:
            connection.join(5)
        return ExitStatus.INTERRUPTED
    finally:
        listener.close()
        for connection in live:
            connection.close()
    return ExitStatus.OK


def run_exec(command: str, make_sinks, *, relay_options: dict) -> int:
    """--exec: COMMAND is the server, this process's stdin/stdout the client."""
    try:
        child = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, bufsize=0)
    except OSError as exc:
        raise UsageError(f"--exec {command!r}: {exc.strerror or exc}") from None
    client = _Pipes(0, 1)
    server = _Pipes(child.stdout.fileno(), child.stdin.fileno(), child)
    relay = Relay(1, **relay_options)
    connection = Connection(1, client, server, relay, make_sinks(1), peer="stdin/stdout",
                            target=f"exec:{command}")
    connection.begin()
    try:
        connection.ended.wait()           # recorded; a client that keeps stdin open
        connection.join(0.5)              # is not waited for
    except KeyboardInterrupt:
        connection.end(ev.TAP, "the tap was stopped (Ctrl-C)")
        connection.join(5)
    finally:
        server.close()
    try:
        return child.wait(10)             # the server command's own status
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    return ExitStatus.OK


class _Pipes:
    """A pair of file descriptors with the few socket calls Connection makes."""

    def __init__(self, read_fd: int, write_fd: int, child=None) -> None:
        self.read_fd, self.write_fd, self.child = read_fd, write_fd, child
        self.closed = False

    def recv(self, size: int) -> bytes:
        return os.read(self.read_fd, size)

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.write_fd, view):]

    def shutdown(self, how) -> None:
        if self.child is not None:          # the child sees EOF on its stdin
            self.close()
        else:
            try:
                os.close(self.write_fd)
            except OSError:
                pass

    def close(self) -> None:
        if self.closed or self.child is None:
            return
        self.closed = True
        for stream in (self.child.stdin,):
            try:
                stream.close()
            except OSError:
                pass
