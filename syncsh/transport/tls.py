"""TLS over a stream that is not a kernel socket (an SSH direct-tcpip channel, for STARTTLS
through a jump host): ssl's MemoryBIO pair, with the stream carrying the records.  It offers
the few socket calls SocketTransport makes: sendall, recv, pending, fileno, close."""

from __future__ import annotations

import ssl

RECORD = 1 << 16


class TlsStream:
    def __init__(self, stream, context: ssl.SSLContext, server_hostname: str | None) -> None:
        self.stream = stream
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing,
                                     server_hostname=server_hostname)
        self._eof = False               # the stream has ended
        self._closed = False            # the TLS session has ended
        self._plain = b""               # decrypted by pending(), not yet handed out
        self._until_done(self._tls.do_handshake)

    def _flush(self) -> None:
        data = self._outgoing.read()
        if data:
            self.stream.sendall(data)

    def _fill(self) -> bool:
        """Move what the stream has into the TLS engine; False once the stream has ended."""
        data = self.stream.recv(RECORD)
        if not data:
            self._incoming.write_eof()
            self._eof = True
            return False
        self._incoming.write(data)
        return True

    def _until_done(self, operation, *args):
        """Run a TLS operation, carrying records both ways until it completes."""
        while True:
            try:
                result = operation(*args)
            except ssl.SSLWantReadError:
                self._flush()
                if self._eof or not self._fill():
                    raise ssl.SSLEOFError(ssl.SSL_ERROR_EOF,
                                          "the stream ended inside a TLS exchange") from None
                continue
            self._flush()
            return result

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self._until_done(self._tls.write, view)
            view = view[written:]

    def recv(self, size: int) -> bytes:
        if self._plain or self._closed:
            data, self._plain = self._plain, b""
            return data
        data = self._decrypt(size)
        if data is None:
            self._flush()
            if self._eof or not self._fill():
                return b""
            data = self._decrypt(size)
        if data is None:        # part of a record: the caller waits on the stream, with its
            raise BlockingIOError("the rest of a TLS record is on its way")     # deadline
        return data

    def _decrypt(self, size: int) -> bytes | None:
        """Plain bytes from the records already received; None if they hold no whole one."""
        try:
            data = self._tls.read(size)
        except ssl.SSLWantReadError:
            return None
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            self._closed = True
            return b""
        self._flush()                   # (a key update may want an answer)
        return data

    def pending(self) -> int:
        """Bytes readable without waiting on the stream.  Whole records already received
        count (select on the stream would not see them); part of a record does not."""
        if not self._plain and not self._closed and self._incoming.pending:
            self._plain = self._decrypt(RECORD) or b""
        return len(self._plain) + self._tls.pending() + self._closed

    def fileno(self) -> int:
        return self.stream.fileno()

    def close(self) -> None:
        self.stream.close()
