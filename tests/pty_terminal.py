"""A terminal without a multiplexer: the program on a pseudo-terminal (pexpect) and its
output drawn by a VT100 emulator (pyte), for tests that only need to see the screen.
Faster than tmux and free of its timing (no server to start, the screen is read in this
process); the same keys(), screen(), visible(), wait_for() and close() as the Tmux class."""

from __future__ import annotations

import time

import pexpect
import pyte

# tmux key names the tests use, as the bytes a terminal sends
KEYS = {"Enter": "\r", "Tab": "\t", "C-c": "\x03", "C-l": "\x0c", "C-d": "\x04",
        "Escape": "\x1b", "BSpace": "\x7f", "Up": "\x1b[A"}


class PtyTerminal:
    def __init__(self, command: str, env: dict, width: int = 120, height: int = 50) -> None:
        self.screen_ = pyte.Screen(width, height)
        self.stream = pyte.ByteStream(self.screen_)
        self.child = pexpect.spawn("/bin/sh", ["-c", command], env=env,
                                   dimensions=(height, width))
        # the terminal's answers (the cursor position prompt_toolkit asks for) go back
        self.screen_.write_process_input = lambda data: self.child.send(data)

    def _pump(self, wait: float = 0.0) -> None:
        """Draw whatever the program has written so far."""
        try:
            while True:
                data = self.child.read_nonblocking(65536, timeout=wait)
                self.stream.feed(data)
                wait = 0
        except (pexpect.TIMEOUT, pexpect.EOF):
            pass

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.child.send(KEYS.get(key, key))

    def visible(self) -> str:
        self._pump()
        return "\n".join(line.rstrip() for line in self.screen_.display)

    screen = visible                    # no scrollback kept: what is on the screen

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._pump(0.05)
            screen = self.visible()
            if text in screen:
                return screen
        raise AssertionError(f"{text!r} never appeared:\n{self.visible()}")

    def wait_gone(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._pump(0.05)
            screen = self.visible()
            if text not in screen:
                return screen
        raise AssertionError(f"{text!r} stayed:\n{self.visible()}")

    def close(self) -> None:
        self.child.terminate(force=True)
