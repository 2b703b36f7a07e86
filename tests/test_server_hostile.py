"""The reference server under hostile input: no reply echoes raw bytes (one final reply per
command, whatever a name holds), an oversized literal loses no command, uidlast never goes
below a UID the mailbox holds, and store errors are said in the server's own words."""

import itertools

import pytest

from syncsh.protocol import commands
from syncsh.protocol.events import NEED_DATA, Done
from syncsh.protocol.legacy import ClientConnection
from syncsh.server.session import OUT, ServerSession
from syncsh.server.store import Store

HOSTILE = b"a\r\nOK forged\r\n\x00b"          # CR, LF, NUL and a would-be final reply
LITERAL = b"{%d+}\r\n" % len(HOSTILE) + HOSTILE

FILLER = {
    commands.USER: b"dpc22", commands.MAILBOX: b"user.dpc22", commands.UID: b"4089",
    commands.FLAGS: b"(\\seen)", commands.GUID: b"0101003f4c56b07e56000023",
    commands.NUMBER: b"4200", commands.ACL: b'"dpc22\tlrswipcda\t"', commands.UNIQUEID: b"u1",
    commands.ASTRING: b"x", commands.SEQSET: b"1:3", commands.LITERAL: b"{3+}\r\nabc",
    commands.ITEM: b"SIMPLE 0101003f4c56b07e56000099 4300 1 1 1 () {3+}\r\nabc",
    commands.MECH: b"PLAIN",
}


class Wire:
    """A server session and a client codec reading its replies, over the demo store."""

    def __init__(self, store_dir, dialect="seed", **limits) -> None:
        self.server = ServerSession(Store(store_dir), dialect=dialect, **limits)
        self.client = ClientConnection()
        self.client.receive_data(self.server.banner())
        self.client.next_event()                         # the banner

    def send(self, line: bytes) -> list:
        """Every event the command's reply makes; the reply must be complete."""
        self.client.send(line.split(b"\r\n", 1)[0])
        self.client.in_flight = line.split(b" ", 1)[0].decode().upper()
        for channel, payload in self.server.receive(line + b"\r\n"):
            if channel == OUT:
                self.client.receive_data(payload)
        events = []
        while (event := self.client.next_event()) is not NEED_DATA:
            events.append(event)
        return events

    def close(self) -> None:
        self.server.end()
        self.server.store.close()


def command_lines():
    """Each command of the server's table, with a hostile literal in each argument slot."""
    for spec in commands.LEGACY.values():
        slots = [FILLER.get(arg.kind, b"x") for arg in spec.args] or []
        for i in range(len(slots) + 1):
            args = list(slots)
            if i < len(args):
                args[i] = LITERAL
            else:
                args.append(LITERAL)                     # one too many
            yield spec.name, spec.name.encode() + b" " + b" ".join(args)


@pytest.mark.parametrize("state", ["fresh", "user", "selected"])
def test_every_command_with_a_hostile_literal_name_gets_exactly_one_final_reply(pair, state):
    master, replica = pair
    for dialect in ("seed", "2005"):
        wire = Wire(replica, dialect)
        try:
            prelude = {"fresh": [], "user": [b"USER dpc22"],
                       "selected": [b"USER dpc22", b"SELECT user.dpc22"]}[state]
            for name, line in command_lines():
                for step in prelude:
                    wire.send(step)
                events = wire.send(line)
                finals = [e for e in events if isinstance(e, Done)]
                assert len(finals) == 1 and events[-1] is finals[0], (dialect, line, events)
                assert wire.client.framer.pending == 0, (line, events)
                assert not wire.server.closed or name == "EXIT", line
                if wire.server.closed:
                    wire.close()
                    wire = Wire(replica, dialect)
        finally:
            wire.close()


def test_a_hostile_name_is_quoted_as_a_literal_in_the_no(pair):
    wire = Wire(pair[1])
    try:
        wire.send(b"USER dpc22")
        events = wire.send(b"SELECT " + LITERAL)
        assert len(events) == 1
        assert events[0].status == "NO"
        assert events[0].text == "Failed to select mailbox " + HOSTILE.decode() + \
            ": Invalid mailbox name"
    finally:
        wire.close()


def test_an_oversized_synchronising_literal_does_not_swallow_the_next_command(pair):
    wire = Wire(pair[1], max_literal=100)
    try:
        out = b"".join(p for c, p in wire.server.receive(b"UPLOAD_SIEVE s 1 {5000}\r\n")
                       if c == OUT)
        assert out == b"BAD Literal too large\r\n"
        out = b"".join(p for c, p in wire.server.receive(b"NOOP\r\n") if c == OUT)
        assert out == b"BAD Unrecognized command\r\n"             # answered: not swallowed
        out = b"".join(p for c, p in wire.server.receive(b"USER dpc22\r\n") if c == OUT)
        assert out == b"OK Locked dpc22\r\n"
        # a non-synchronising one's bytes come anyway: skipped, and the line with them
        out = b"".join(p for c, p in wire.server.receive(
            b"UPLOAD_SIEVE s 1 {200+}\r\n" + b"x" * 200 + b" trailing\r\nUSER dpc22\r\n")
            if c == OUT)
        assert out == b"BAD Literal too large\r\nOK Locked dpc22\r\n"
    finally:
        wire.close()


def test_uidlast_below_existing_uids_is_refused_and_the_store_stays_sound(pair):
    wire = Wire(pair[1])
    try:
        wire.send(b"USER dpc22")
        wire.send(b"SELECT user.dpc22")
        done = wire.send(b"UIDLAST 10 1062945305")[-1]
        assert done.status == "NO"
        assert done.text == "Uidlast failed: uidlast 10 is below UID 4140, which the mailbox holds"
        done = wire.send(b"UPLOAD 10 1062945305 SIMPLE 0101003f4c56b07e56000099 4300 1 1 1 () "
                         b"{3+}\r\nabc")[-1]
        assert done.status == "NO" and "uidlast 10 is below UID 4300" in done.text, done
        assert wire.send(b"UIDLAST 5000 1062945305")[-1].ok
        assert wire.server.store.integrity_problems() == []
    finally:
        wire.close()


def test_a_store_error_is_said_in_the_servers_words(pair, monkeypatch):
    import sqlite3
    wire = Wire(pair[1])
    try:
        wire.send(b"USER dpc22")
        wire.send(b"SELECT user.dpc22")

        def broken(*args):
            raise sqlite3.IntegrityError("UNIQUE constraint failed: message.mailbox, message.uid")
        monkeypatch.setattr(wire.server.store, "set_flags", broken)
        done = wire.send(b"SETFLAGS 4089 (\\seen)")[-1]
        assert done.status == "NO"
        assert "constraint" not in done.text and "UNIQUE" not in done.text
        assert done.text == "Setflags failed: the mailstore could not make the change"
    finally:
        wire.close()


def test_the_fuzz_really_covers_every_command():
    names = {name for name, _ in command_lines()}
    assert names == set(commands.LEGACY)
    assert sum(1 for _ in command_lines()) == sum(len(s.args) + 1
                                                  for s in commands.LEGACY.values())
    assert list(itertools.islice(command_lines(), 1))
