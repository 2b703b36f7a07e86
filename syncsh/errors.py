"""The project's own error types: every failure a user can cause maps to one of these."""


def internal_error_line(exc: BaseException, debug: bool = False) -> str:
    """The one line a bug of ours is reported in (--debug adds the traceback before it)."""
    return (f"syncsh: internal error: {type(exc).__name__}: {exc}"
            + ("" if debug else " (--debug shows where)"))


class SyncshError(Exception):
    """Base class: anything syncsh reports as a one-line message."""


class ProtocolError(SyncshError):
    """Bytes from a peer that do not follow the protocol."""


class UsageError(SyncshError):
    """A command line, target string or option that cannot be used."""


class ConnectionLost(SyncshError):
    """The peer went away, or never answered in time."""


class WriteRefused(SyncshError):
    """A write the guard rail did not let through."""


class StoreUnusable(SyncshError):
    """A reference-server mailstore that cannot be opened (damaged, unreadable)."""
