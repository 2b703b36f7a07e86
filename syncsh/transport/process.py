"""A local subprocess spoken to over its stdin/stdout (``exec:`` and ``demo:`` targets)."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time

from syncsh.errors import ConnectionLost

STDERR_LINE = 64 << 10           # the longest stderr line held back for its end


class ProcessTransport:
    def __init__(self, argv: list[str], *, env: dict | None = None, on_stderr=None,
                 name: str | None = None) -> None:
        self.name = name or argv[0]
        self.on_stderr = on_stderr
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, env=env, bufsize=0,
                                         start_new_session=True)
        except OSError as exc:
            raise ConnectionLost(f"cannot start {argv[0]}: {exc.strerror}") from None
        self._out = self.proc.stdout.fileno()
        self._err = self.proc.stderr.fileno()
        self._in = self.proc.stdin.fileno()
        for fd in (self._out, self._err, self._in):
            os.set_blocking(fd, False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._out, selectors.EVENT_READ)
        self._selector.register(self._err, selectors.EVENT_READ)
        self._stdout_eof = False
        self._stderr_open = True
        self._err_partial = b""
        self._pending = b""          # stdout read while we were still sending

    # The server writes its trace before the reply it belongs to; draining stderr before
    # handing out stdout keeps the two in the order they happened.
    def _pump(self, timeout: float | None) -> bytes:
        events = self._selector.select(timeout)
        ready = {key.fd for key, _ in events}
        if self._err in ready:
            self._read_stderr()
        if self._out in ready:
            try:
                data = os.read(self._out, 1 << 16)
            except BlockingIOError:
                return b""
            if not data:
                self._stdout_eof = True
                self._selector.unregister(self._out)
                self._drain_stderr()
            return data
        return b""

    def _read_stderr(self) -> None:
        try:
            data = os.read(self._err, 1 << 16)
        except BlockingIOError:
            return
        if not data:
            self._selector.unregister(self._err)
            self._stderr_open = False
            if self._err_partial:
                self._emit(self._err_partial)
                self._err_partial = b""
            return
        lines = (self._err_partial + data).split(b"\n")
        self._err_partial = lines.pop()
        if len(self._err_partial) > STDERR_LINE:     # a diagnostic that never ends: in pieces
            lines.append(self._err_partial)
            self._err_partial = b""
        for line in lines:
            self._emit(line)

    def _emit(self, line: bytes) -> None:
        if self.on_stderr is not None:
            self.on_stderr(line.rstrip(b"\r").decode("utf-8", "replace"))

    def _drain_stderr(self, timeout: float = 1.0) -> None:
        deadline = time.monotonic() + timeout
        while self._stderr_open and time.monotonic() < deadline:
            if self._selector.select(max(0.0, deadline - time.monotonic())):
                self._read_stderr()

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self.proc.poll() is not None and self._stdout_eof:
                raise ConnectionLost(f"{self.name} has exited")
            try:
                written = os.write(self._in, view)
                view = view[written:]
                continue
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                raise ConnectionLost(f"{self.name} closed the connection") from None
            # The peer is not reading: keep its output flowing so neither side blocks.
            selector = selectors.DefaultSelector()
            selector.register(self._in, selectors.EVENT_WRITE)
            if not self._stdout_eof:
                self._pending += self._pump(0)
            selector.select(0.05)
            selector.close()

    def recv(self, timeout: float | None) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        if self._stdout_eof:
            return b""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            data = self._pump(remaining)
            if data or self._stdout_eof:
                return data
            if deadline is not None and time.monotonic() >= deadline:
                raise ConnectionLost(f"no reply from {self.name} within {timeout:g}s")

    def close(self) -> None:
        for stream in (self.proc.stdin,):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        if self._stderr_open:
            self._drain_stderr(0.5)
        self._selector.close()
        self.proc.stdout.close()
        self.proc.stderr.close()
