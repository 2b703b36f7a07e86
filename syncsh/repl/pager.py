"""Output that pages only when a reply is taller than the screen.

Lines are held back until either the reply ends (then they are printed as they are) or
they fill a screen (then a pager starts with them and the rest streams into it).  So a
short reply never sees a pager and a long one shows its first screen at once."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys


class PagerQuit(Exception):
    """The user left the pager: stop showing, keep reading."""


class PagedOutput:
    def __init__(self, stream=None, *, enabled: bool = True, height: int | None = None) -> None:
        self.stream = stream or sys.stdout
        self.enabled = enabled and _isatty(self.stream)
        self.height = height or shutil.get_terminal_size((80, 24)).lines
        self.held: list[str] = []
        self.lines = 0
        self.pager: subprocess.Popen | None = None

    def write(self, text: str) -> int:
        if self.pager is not None:
            self._to_pager(text)
        elif not self.enabled:
            self.stream.write(text)
        else:
            self.held.append(text)
            self.lines += text.count("\n")
            if self.lines >= self.height - 1:
                self._start_pager()
        return len(text)

    def _start_pager(self) -> None:
        command = os.environ.get("PAGER") or "less -R -F -X"
        try:
            from syncsh.private import child_env
            self.pager = subprocess.Popen(shlex.split(command), stdin=subprocess.PIPE,
                                          text=True, errors="replace", env=child_env())
        except (OSError, ValueError):
            self.enabled = False
            self.stream.write("".join(self.held))
            self.held = []
            return
        held, self.held = "".join(self.held), []
        self._to_pager(held)

    def _to_pager(self, text: str) -> None:
        try:
            self.pager.stdin.write(text)
        except (BrokenPipeError, OSError, ValueError):
            raise PagerQuit() from None

    def flush(self) -> None:
        if self.pager is None and self.held:
            self.stream.write("".join(self.held))
            self.held = []
            self.lines = 0
        try:
            (self.pager.stdin if self.pager else self.stream).flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def isatty(self) -> bool:
        return _isatty(self.stream)

    def close(self) -> None:
        self.flush()
        if self.pager is not None:
            try:
                self.pager.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            self.pager.wait()
            self.pager = None


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
