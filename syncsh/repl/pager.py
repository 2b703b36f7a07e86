"""Output that pages only when a reply is taller than the screen.

Lines are held back until either the reply ends (then they are printed as they are) or
they fill a screen (then a pager starts with them and the rest streams into it).  So a
short reply never sees a pager and a long one shows its first screen at once."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess

_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class PagerQuit(Exception):
    """The user left the pager: stop showing, keep reading."""


class PagedOutput:
    def __init__(self, stream, *, enabled: bool = True, height: int | None = None,
                 always: bool = False, isatty: bool | None = None,
                 environ=None) -> None:
        """``isatty``: whether the stream is a terminal (the environment's word for it;
        else the stream is asked); ``environ``: where $PAGER and $LESS are read."""
        self.stream = stream
        self.on_terminal = _isatty(stream) if isatty is None else isatty
        self.enabled = enabled and self.on_terminal
        self.always = always            # \pager on: the pager from the first line
        self.environ = os.environ if environ is None else environ
        size = shutil.get_terminal_size((80, 24))
        self.height = height or size.lines
        self.width = max(size.columns, 1)
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
            self.lines += self._rows(text)
            if self.always or self.lines >= self.height - 1:
                self._start_pager()
        return len(text)

    def _start_pager(self) -> None:
        command = self.environ.get("PAGER") or "less"
        try:
            argv = shlex.split(command)
            self.pager = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                          env=pager_env(argv, self.environ),
                                          text=True, errors="replace")
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

    def _rows(self, text: str) -> int:
        """Screen rows the text takes once shown: its lines, a wide one wrapping."""
        lines = _ESCAPE.sub("", text).split("\n")
        return sum(max(1, -(-len(line) // self.width)) for line in lines[:-1])

    def flush(self) -> None:
        """What is held stays held (the reply may yet fill a screen): only the stream or
        the pager is flushed. close() lets held lines out."""
        try:
            (self.pager.stdin if self.pager else self.stream).flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def isatty(self) -> bool:
        return self.on_terminal

    def close(self) -> None:
        if self.pager is None and self.held:
            self.stream.write("".join(self.held))
            self.held = []
            self.lines = 0
        self.flush()
        if self.pager is not None:
            try:
                self.pager.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            self.wait_for_pager()
            self.pager = None

    def wait_for_pager(self) -> None:
        """Until the user leaves the pager. Ctrl-C there reaches syncsh too (one process
        group): less takes it as its own, so syncsh waits on instead of ending the console
        and leaving less reading the terminal."""
        while True:
            try:
                self.pager.wait()
                return
            except KeyboardInterrupt:
                continue


def pager_env(argv: list[str], environ=None) -> dict[str, str]:
    """The pager's environment (``environ``'s, the process's by default): none of syncsh's
    secrets; and less as psql and pgcli run it: colours pass (-R), no wrapping of wide
    tables (-S), the screen is not cleared (-X) and output that fits does not page (-F),
    unless the user set LESS."""
    from syncsh.private import SECRET_VARIABLES
    env = {k: v for k, v in (os.environ if environ is None else environ).items()
           if k not in SECRET_VARIABLES}
    if argv and os.path.basename(argv[0]) == "less" and "LESS" not in env:
        env["LESS"] = "-SRXF"
    return env


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
