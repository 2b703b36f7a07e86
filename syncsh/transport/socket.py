"""A stream socket (TCP, a UNIX socket, or an SSH direct-tcpip channel), with STARTTLS and
COMPRESS DEFLATE switched on when the session says so.  Bytes only."""

from __future__ import annotations

import select
import socket
import time
import zlib

from syncsh.errors import ConnectionLost

INFLATE_STEP = 1 << 20


class SocketTransport:
    def __init__(self, sock, name: str, *, on_close=None) -> None:
        self.sock = sock
        self.name = name
        self.on_stderr = None
        self.on_close = on_close
        self._inflate = None
        self._deflate = None
        self._plain = b""          # inflated bytes not yet handed out

    @classmethod
    def tcp(cls, host: str, port: int, timeout: float, name: str):
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise ConnectionLost(f"cannot connect to {host} port {port}: "
                                 f"{exc.strerror or exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock, name)

    @classmethod
    def unix(cls, path: str, timeout: float, name: str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except OSError as exc:
            sock.close()
            raise ConnectionLost(f"cannot connect to {path}: {exc.strerror or exc}") from None
        return cls(sock, name)

    def start_tls(self, context, server_hostname: str | None) -> None:
        import ssl
        try:
            if isinstance(self.sock, socket.socket):
                self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
            else:                           # an SSH channel (--via): TLS in memory over it
                from syncsh.transport.tls import TlsStream
                self.sock = TlsStream(self.sock, context, server_hostname)
        except (ssl.SSLError, OSError, EOFError) as exc:
            raise ConnectionLost(f"TLS with {self.name} failed: {exc}") from None

    def start_compression(self) -> None:
        self._deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        self._inflate = zlib.decompressobj(-15)

    def send(self, data: bytes) -> None:
        if self._deflate is not None:
            data = self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
        try:
            self.sock.sendall(data)
        except (OSError, EOFError) as exc:
            raise ConnectionLost(f"the connection to {self.name} was lost: {exc}") from None

    def recv(self, timeout: float | None) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._plain:
                data, self._plain = self._plain, b""
                return data
            if self._inflate is not None and self._inflate.unconsumed_tail:
                self._plain = self._inflate_some(b"")
                if self._plain:
                    continue
            pending = getattr(self.sock, "pending", lambda: 0)()
            if not pending:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                ready, _, _ = select.select([self.sock], [], [], remaining)
                if not ready:
                    raise ConnectionLost(f"no reply from {self.name} within {timeout:g}s")
            try:
                data = self.sock.recv(1 << 16)
            except (socket.timeout, BlockingIOError):
                continue
            except (OSError, EOFError) as exc:
                raise ConnectionLost(f"the connection to {self.name} was lost: {exc}") from None
            if not data:
                return b""
            if self._inflate is None:
                return data
            self._plain = self._inflate_some(data)
            if not self._plain and deadline is not None and time.monotonic() >= deadline:
                raise ConnectionLost(f"no reply from {self.name} within {timeout:g}s")

    def _inflate_some(self, data: bytes) -> bytes:
        """At most INFLATE_STEP bytes inflated at a time (the rest waits in the inflater's
        unconsumed tail): a few compressed KiB can stand for gigabytes."""
        try:
            return self._inflate.decompress(self._inflate.unconsumed_tail + data, INFLATE_STEP)
        except zlib.error as exc:
            raise ConnectionLost(f"bad compressed data from {self.name}: {exc}") from None

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
        if self.on_close is not None:
            self.on_close()
