"""``syncsh server``: the reference sync_server on stdin/stdout, as ``ssh host sync_server``."""

from __future__ import annotations

import os
import select
import signal
import sys

from syncsh.server.session import OUT, ServerSession
from syncsh.server.store import Store


class _Output:
    """Buffered protocol output; the trace goes straight to stderr, after what precedes it
    on stdout, so a reader of both pipes sees them in the order they happened."""

    def __init__(self, out_fd: int, err, verbosity: int) -> None:
        self.out_fd = out_fd
        self.err = err
        self.verbosity = verbosity
        self.pending: list[bytes] = []
        self.size = 0

    def write(self, channel: int, payload) -> None:
        if channel == OUT:
            self.pending.append(payload)
            self.size += len(payload)
            if self.size >= 1 << 16:
                self.flush()
        elif self.verbosity >= 2:
            self.flush()
            self.err.write(payload + "\n")
            self.err.flush()

    def flush(self) -> None:
        if self.pending:
            data = b"".join(self.pending)
            self.pending, self.size = [], 0
            view = memoryview(data)
            while view:
                written = os.write(self.out_fd, view)
                view = view[written:]


def serve(store_dir: str, *, verbosity: int = 0, dialect: str = "seed",
          idle_timeout: float = 1800.0, lock_timeout: float = 10.0,
          in_fd: int = 0, out_fd: int = 1, err=None) -> int:
    err = err or sys.stderr
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    store = Store(store_dir)
    session = ServerSession(store, dialect=dialect, lock_timeout=lock_timeout)
    out = _Output(out_fd, err, verbosity)
    try:
        out.write(OUT, session.banner())
        out.flush()
        while not session.closed:
            ready, _, _ = select.select([in_fd], [], [], idle_timeout)
            if not ready:
                if verbosity:
                    err.write("sync_server: idle for %gs, closing\n" % idle_timeout)
                break
            data = os.read(in_fd, 1 << 16)
            if not data:
                break
            for channel, payload in session.receive(data):
                out.write(channel, payload)
            out.flush()
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    finally:
        session.end()
        store.close()
    return 0
