"""What the tap's relay reports, one frozen event per thing seen on the wire.

Times are seconds since the connection opened (the relay is handed the clock).  No event
ever carries a SASL exchange: an AUTHENTICATE shows as its mechanism and its outcome."""

from __future__ import annotations

from dataclasses import dataclass

from syncsh.tap.frames import Framed

CLIENT, SERVER, TAP = "client", "server", "tap"


@dataclass(frozen=True, slots=True)
class Opened:
    conn: int
    time: float
    peer: str
    target: str
    wallclock: float


@dataclass(frozen=True, slots=True)
class Greeted:
    """The server's greeting (capability lines and the banner) as the server sent it."""
    conn: int
    time: float
    banner: object               # protocol.legacy.Banner
    lines: tuple[str, ...]
    removed: tuple[str, ...] = ()    # lines the client did not see (--no-starttls)


@dataclass(frozen=True, slots=True)
class Sent:
    """A whole command from the client.  ``command`` is None when it must not be kept
    (AUTHENTICATE): ``summary`` then names only the mechanism."""
    conn: int
    time: float
    verb: str
    summary: str
    size: int
    command: Framed | None


@dataclass(frozen=True, slots=True)
class Received:
    """One reply event of the server (the codec's: Mailbox, Message, Untagged …) with the
    wire bytes it was read from (empty when they went with the event before it)."""
    conn: int
    time: float
    command: str
    event: object
    raw: bytes


@dataclass(frozen=True, slots=True)
class Finished:
    """A command's final OK/NO/BAD."""
    conn: int
    time: float
    command: str
    done: object                 # protocol.legacy.Done
    seconds: float
    raw: bytes


@dataclass(frozen=True, slots=True)
class Note:
    conn: int
    time: float
    text: str
    problem: bool = False


@dataclass(frozen=True, slots=True)
class Stats:
    commands: int
    client_bytes: int
    server_bytes: int
    seconds: float
    first_failure: str | None


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection's end: ``side`` is who ended it (client, server, or the tap)."""
    conn: int
    time: float
    side: str
    why: str
    stats: Stats
    waiting: str | None = None   # the command left without its reply
