"""The one guard rail.  A write (the command tables mark them) goes through on demo:
targets and with --allow-writes; elsewhere it needs confirmation (the REPL asks, one-shot
and replay refuse); --read-only, or a named target marked read_only, refuses it always.

Every door (the REPL, -c/-f/stdin, replay, replicate, \\upload, diff) asks here, and the
session asks again for every command it is about to send (``Gate``), so that no path can
put a write on the wire that the user did not allow.  What is judged is every piece of
the bytes that a server could take for a command of its own: each physical line of what
is sent, the bytes after a literal and inside it included (a server that does not expect
a literal after ``NOOP`` reads what follows as the next command)."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from syncsh.errors import WriteRefused

SEND, CONFIRM, REFUSE = "send", "confirm", "refuse"

# doors: where a command comes from (the audit log names them)
REPL, ONE_SHOT, REPLAY, REPLICATE, UPLOAD, DIFF = (
    "repl", "one-shot", "replay", "replicate", "upload", "diff")


def decide(write: bool, target, *, read_only: bool = False, allow_writes: bool = False) -> str:
    if not write:
        return SEND
    if read_only or target.read_only:
        return REFUSE
    if target.is_demo or allow_writes:
        return SEND
    return CONFIRM


@dataclass(frozen=True, slots=True)
class Verdict:
    action: str          # SEND, CONFIRM or REFUSE
    write: bool          # some piece of it changes the replica
    name: str            # the command that decided: the first write, else the first command
    why: str = ""        # the one line a refusal is said in
    known: bool = True   # the table knows the command it is named by


def command_pieces(wire: str | bytes) -> list[str]:
    """Every piece of a command that a server could read as a command: the physical lines
    (a bare CR or LF ends one for some servers), literal bytes and what follows them."""
    if isinstance(wire, bytes):
        wire = wire.decode("utf-8", "surrogateescape")
    return [piece for piece in _LINE_END.split(wire) if piece.strip()]


_LINE_END = re.compile(r"[\r\n]+")
_FIRST_LINE = re.compile(rb"[^\r\n]*")
# what a piece that is data starts with: a list's end or start, a quoted string, a literal,
# a kvlist, a number; anything else (a letter, a control byte, a look-alike) may be read
# as a command by a server that did not take the literal
_DATA_START = frozenset(')("{%*+\\0123456789')


def _may_be_command(piece: str) -> bool:
    return piece.lstrip()[:1] not in _DATA_START


def _first_piece(wire: str | bytes) -> str:
    """The first non-blank physical line, without decoding what follows (a message body)."""
    if isinstance(wire, bytes):
        return _FIRST_LINE.match(wire.lstrip()).group().decode("utf-8", "surrogateescape")
    return _LINE_END.split(wire.lstrip(), maxsplit=1)[0]


def _shown(name: str) -> str:
    """A command word as a message may show it: control characters escaped, and short
    (it may come from a transcript)."""
    shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in name)
    return shown if len(shown) <= 40 else shown[:40] + "…"


def judge(table, wire: str | bytes, target, *, read_only: bool = False,
          allow_writes: bool = False) -> Verdict:
    """The decision for everything of one command that will reach the server."""
    from syncsh.protocol import commands
    first = _first_piece(wire)
    if commands.is_write(table, first):
        pieces = [first]                 # decided: the rest (a message body) need not be read
        writes = [0]
    else:
        pieces = command_pieces(wire) or [first]
        writes = [i for i, p in enumerate(pieces)
                  if (i == 0 or _may_be_command(p)) and commands.is_write(table, p)]
    # named by the first write the table knows (a literal's text is only suspect)
    known = [i for i in writes if commands.lookup(table, pieces[i]) is not None]
    decider = (known or writes or [0])[0]
    name = _shown(commands.command_name(table, pieces[decider]))
    if writes and not known:             # not a command of this dialect: judged a write
        name = f"{name} (not a command of this dialect, so taken for a write)"
    if decider > 0:
        name = f"{name} (after {_shown(commands.command_name(table, pieces[0]))}'s first line)"
    action = decide(bool(writes), target, read_only=read_only, allow_writes=allow_writes)
    return Verdict(action, bool(writes), name, refusal(action, name, target, read_only),
                   bool(known) or not writes)


def refusal(action: str, name: str, target, read_only: bool, door: str = "") -> str:
    """The one line a write not let through is said in ("" for SEND), from any door."""
    if action == REFUSE:
        return f"refused: {name} writes to the replica and " + (
            "--read-only is set" if read_only else
            f"{target.text} is read_only in the config (no --allow-writes or confirmation "
            "lets it through, as with --read-only)")
    if action == CONFIRM:
        remedy = "replay it with --allow-writes" if door == REPLAY else \
            "pass --allow-writes to send it"
        return f"refused: {name} writes to {target.text}; {remedy}"
    return ""


class Gate:
    """The session's own check before anything leaves: the door's policy, one target.
    A write the door confirmed (the REPL's question) passes with ``confirmed``; nothing
    passes a refusal.  Writes that went to a non-demo target are audited here too."""

    def __init__(self, target, *, door: str, read_only: bool = False,
                 allow_writes: bool = False) -> None:
        self.target = target
        self.door = door
        self.read_only = read_only
        self.allow_writes = allow_writes

    @contextlib.contextmanager
    def door_as(self, door: str):
        """Commands sent for another door over this session (\\upload in the REPL)."""
        saved, self.door = self.door, door
        try:
            yield self
        finally:
            self.door = saved

    def judge(self, table, wire) -> Verdict:
        return judge(table, wire, self.target, read_only=self.read_only,
                     allow_writes=self.allow_writes)

    def check(self, table, wire, *, confirmed: bool = False) -> Verdict:
        verdict = self.judge(table, wire)
        if verdict.action == REFUSE or (verdict.action == CONFIRM and not confirmed):
            raise WriteRefused(verdict.why)
        return verdict

    @property
    def audits(self) -> bool:
        return not self.target.is_demo

    def sent(self, verdict: Verdict, wire, done) -> None:
        """A command went and its reply came: writes to a real server are written down."""
        if verdict.write and self.audits:
            from syncsh import audit
            options = self.target.options
            audit.record(self.target.text, self.door, wire, done, warn=options.warn,
                         environ=options.environ)
