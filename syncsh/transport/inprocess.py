"""The reference server run inside this process: the same ServerSession over the same store,
without an interpreter start per connection (replay opens many).  Requests and replies
alternate, so the server runs as each request arrives; its trace goes to on_stderr in the
order it was written."""

from __future__ import annotations

from syncsh.errors import ConnectionLost, StoreUnusable


class InProcessTransport:
    def __init__(self, store_dir: str, *, on_stderr=None, verbosity: int = 0,
                 name: str = "in-process server") -> None:
        from syncsh.server.session import ServerSession
        from syncsh.server.store import Store
        self.name = name
        self.on_stderr = on_stderr
        self.verbosity = verbosity
        try:
            self.store = Store(store_dir)
        except StoreUnusable as exc:    # only demo pairs are served in-process
            raise StoreUnusable(f"{name}: {exc} (syncsh demo reset rebuilds the demo pair)") \
                from None
        self.session = ServerSession(self.store)
        self.pending = [self.session.banner()]

    def send(self, data: bytes) -> None:
        if self.session.closed:
            raise ConnectionLost(f"{self.name} closed the connection")
        from syncsh.server.session import OUT
        for channel, payload in self.session.receive(data):
            if channel == OUT:
                self.pending.append(payload)
            elif self.verbosity >= 2 and self.on_stderr is not None:
                self.on_stderr(payload)

    def recv(self, timeout: float | None) -> bytes:
        if self.pending:
            data = b"".join(self.pending)
            self.pending = []
            return data
        if self.session.closed:
            return b""
        raise ConnectionLost(f"no reply from {self.name} within {timeout:g}s")

    def close(self) -> None:
        self.session.end()
        self.store.close()
