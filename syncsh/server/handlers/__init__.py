"""The reference server's commands, one function each, in a table keyed by the names of the
documented dialect's command table (syncsh.protocol.commands.LEGACY): a test checks that
the two agree. Each handler is ``handler(session, args)`` and yields (channel, payload)."""

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


from syncsh.server.handlers import mailboxes, messages, sieve, users  # noqa: E402,F401  (they register)
