"""Target strings: where a session goes.  ``demo:NAME`` and ``exec:COMMAND`` here; the SSH
and TCP issues add ``ssh://``, ``csync://``, ``unix:`` and ``cyrus:``."""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field

from syncsh.errors import UsageError


@dataclass
class Target:
    text: str
    scheme: str
    argv: list[str] = field(default_factory=list)
    store: str | None = None           # demo: the store directory

    @property
    def is_demo(self) -> bool:
        return self.scheme == "demo"

    def open(self, *, on_stderr=None, server_verbosity: int = 0):
        from syncsh.transport.process import ProcessTransport
        argv = list(self.argv)
        if self.scheme == "demo" and server_verbosity:
            argv += ["-v"] * server_verbosity
        return ProcessTransport(argv, on_stderr=on_stderr, name=self.text)


def server_argv(store: str) -> list[str]:
    return [sys.executable, "-m", "syncsh", "server", "--store", store]


def parse_target(text: str, *, demo_dir: str | None = None) -> Target:
    """A target string to a Target; a one-line UsageError when it cannot be one."""
    if not text or text.strip() != text:
        raise UsageError(f"bad target {text!r}: empty or surrounded by spaces")
    scheme, sep, rest = text.partition(":")
    if not sep:
        raise UsageError(f"bad target {text!r}: expected demo:NAME or exec:COMMAND")
    if scheme == "demo":
        from syncsh import demo
        if rest not in demo.NAMES:
            raise UsageError(f"bad target {text!r}: the demo has {' and '.join(demo.NAMES)}")
        directory = demo_dir or demo.ensure_pair()
        store = os.path.join(directory, rest)
        return Target(text, "demo", server_argv(store), store)
    if scheme == "exec":
        try:
            argv = shlex.split(rest)
        except ValueError as exc:
            raise UsageError(f"bad target {text!r}: {exc}") from None
        if not argv:
            raise UsageError(f"bad target {text!r}: exec: needs a command")
        return Target(text, "exec", argv)
    raise UsageError(f"bad target {text!r}: unknown scheme {scheme!r} "
                     "(known: demo:, exec:)")
