"""What a command gets from the world it runs in, built once by ``main()`` and passed down
(as httpie does): the standard streams and what they are attached to, colour, the process
environment, where syncsh keeps its files and its configuration, and how to ask the user
something.  A test builds one over in-memory streams and runs a command in process; nothing
below the front ends reaches for ``sys.stdout`` to find out where its output goes."""

from __future__ import annotations

import dataclasses
import io
import os
import sys
from typing import Callable, Mapping, TextIO


def _isatty(stream) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):            # a closed stream is no terminal
        return False


def _no_color(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("NO_COLOR"))


@dataclasses.dataclass
class Environment:
    stdin: TextIO | None
    stdout: TextIO
    stderr: TextIO
    environ: Mapping[str, str] = dataclasses.field(default_factory=lambda: os.environ)
    stdin_isatty: bool | None = None
    stdout_isatty: bool | None = None
    stderr_isatty: bool | None = None
    # None: colour when stdout is a terminal (and NO_COLOR is unset); --no-color makes it False
    color: bool | None = None
    data_dir: str | None = None
    config_file: str | None = None
    # the interactive questions: the host-key question and a password (None: abandoned)
    ask: Callable[[str], str | None] | None = None
    secret: Callable[[str], str | None] | None = None

    def __post_init__(self) -> None:
        if self.stdin_isatty is None:
            self.stdin_isatty = _isatty(self.stdin)
        if self.stdout_isatty is None:
            self.stdout_isatty = _isatty(self.stdout)
        if self.stderr_isatty is None:
            self.stderr_isatty = _isatty(self.stderr)
        if self.color is None and _no_color(self.environ):
            self.color = False
        if self.config_file is None:
            self.config_file = self.environ.get("SYNCSH_CONFIG") or None
        if self.ask is None:
            self.ask = self._ask_line
        if self.secret is None:
            self.secret = self._ask_secret

    @classmethod
    def of_process(cls) -> "Environment":
        """The environment of this process: its streams and its variables.  A closed
        stdout or stderr (``>&-``) swallows what is written, as print() does then; a
        closed stdin stays None (a command that needs it says so)."""
        return cls(stdin=sys.stdin, stdout=sys.stdout or _nowhere(),
                   stderr=sys.stderr or _nowhere())

    @classmethod
    def in_memory(cls, stdin: bytes | str = b"", *, environ: Mapping[str, str] | None = None,
                  **facts) -> "Environment":
        """Streams over bytes (what a test reads back as a child's output would be),
        ``stdout.buffer`` included for raw output."""
        if isinstance(stdin, str):
            stdin = stdin.encode()

        def stream(data: bytes = b"") -> TextIO:
            return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8",
                                    errors="surrogateescape", newline="", write_through=True)
        return cls(stdin=stream(stdin), stdout=stream(), stderr=stream(),
                   environ=os.environ if environ is None else environ, **facts)

    # -- what commands say

    def say(self, text: str) -> None:
        """A line of output (the command's result)."""
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def warn(self, text: str) -> None:
        """A line on stderr, escaped: it may quote a server or a file."""
        from syncsh.printable import printable
        self.stderr.write(printable(text) + "\n")
        self.stderr.flush()

    def data_directory(self) -> str:
        """Where syncsh keeps its files (SYNCSH_DATA_DIR, else the platform's data
        directory); asked for only when a command needs it (platformdirs costs start-up)."""
        if self.data_dir is None:
            self.data_dir = _data_dir(self.environ)
        return self.data_dir

    def captured(self) -> tuple[bytes, bytes]:
        """What an in-memory environment's stdout and stderr received."""
        return self.stdout.buffer.getvalue(), self.stderr.buffer.getvalue()

    # -- the default questions, on the controlling streams

    def _ask_line(self, question: str) -> str | None:
        """The answer typed (the host-key question wants 'yes', as OpenSSH does); None at
        the end of input."""
        if self.stdin is None:                   # closed: no one to answer
            return None
        if self.stdin is not sys.stdin:          # as input() asks: on stdout
            self.stdout.write(question)
            self.stdout.flush()
            line = self.stdin.readline()
            return line.rstrip("\n") if line else None
        try:
            return input(question)
        except (EOFError, RuntimeError):         # RuntimeError: sys.stdin lost
            return None

    def _ask_secret(self, question: str) -> str | None:
        """A password, typed with no echo; None if abandoned (Ctrl-C, Ctrl-D)."""
        import getpass          # only when a password is asked for
        try:
            return getpass.getpass(question)
        except (EOFError, KeyboardInterrupt):
            return None


def _nowhere() -> TextIO:
    return open(os.devnull, "w", encoding="utf-8")


def _data_dir(environ: Mapping[str, str]) -> str:
    override = environ.get("SYNCSH_DATA_DIR")
    if override:
        return override
    from syncsh.private import data_dir_path
    return data_dir_path()
