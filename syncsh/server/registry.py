"""The table of the reference server's commands: each handler registers under its name in
the documented dialect's command table (syncsh.protocol.commands.LEGACY); a test checks
that the two agree. A handler is ``handler(session, args)`` and yields (channel, payload)."""

from __future__ import annotations

from collections.abc import Callable

HANDLERS: dict[str, Callable] = {}
DIALECT_2005_ONLY = frozenset({"AUTHENTICATE", "STARTTLS"})


def command(name: str):
    """Register the decorated function as the handler of command ``name``."""
    def register(function: Callable) -> Callable:
        HANDLERS[name] = function
        return function
    return register
