"""A client session: one transport, one dialect's codec, one command in flight (or, for
reads of the modern dialect, several sent ahead whose replies are read in order).

It tracks what the server's session holds (the user whose lock we have, the selected
mailbox) and learns names, UIDs and flags from replies for completion.
"""

from __future__ import annotations

import time
from collections import deque

from syncsh.errors import ConnectionLost, ProtocolError
from syncsh.model import Mailbox, Message, MessageBatch
from syncsh.protocol import commands
from syncsh.protocol.wire import MAX_REPLY_LINE
from syncsh.protocol.events import NEED_DATA, Banner, Continuation, Done, SelectInfo, Subscription
from syncsh.protocol.legacy import ClientConnection


MAX_SASL_STEPS = 8               # SCRAM takes two, PLAIN and LOGIN at most two


class Learnt:
    """Values seen in this session, for completion."""

    def __init__(self) -> None:
        self.users: set[str] = set()
        self.mailboxes: set[str] = set()
        self.uids: dict[str, set[int]] = {}
        self.guids: set[str] = set()
        self.flags: set[str] = set()
        self._current: set[int] | None = None
        self._index: list[str] = []
        self._index_key = None

    def uid_prefix(self, mailbox: str | None, prefix: str, limit: int = 500) -> list[str]:
        """Known UIDs (of the mailbox, else of any) whose digits start with prefix: a
        bisect into a cached string-sorted index, so a million UIDs cost nothing to type."""
        import bisect
        uids = self.uids.get(mailbox or "") or set().union(*self.uids.values()) \
            if self.uids else set()
        key = (mailbox, len(uids))
        if self._index_key != key:
            self._index = sorted(map(str, uids))
            self._index_key = key
        start = bisect.bisect_left(self._index, prefix)
        end = bisect.bisect_left(self._index, prefix + "\x7f")
        return sorted(self._index[start:min(end, start + limit)], key=int)

    def note(self, event) -> None:
        if isinstance(event, Message):
            if self._current is not None:
                self._current.add(event.uid)
            if len(self.guids) < 100_000:       # enough to complete; bounded for huge listings
                self.guids.add(event.guid)
            if event.flags:
                self.flags.update(event.flags)
        elif isinstance(event, MessageBatch):
            if self._current is not None:
                self._current.update(event.uids)
            if len(self.guids) < 100_000:
                self.guids.update(event.guids)
            for flags in set(event.flags):
                self.flags.update(flags)
        elif isinstance(event, Mailbox):
            self.mailboxes.add(event.name)
            self._current = self.uids.setdefault(event.name, set())
        elif isinstance(event, Subscription):
            self.mailboxes.add(event.name)


class Session:
    """``timeout`` is the idle timeout: the longest wait for the next bytes.  ``deadline``
    bounds a whole reply (and the greeting) however its bytes trickle in; None: 20 times
    the idle timeout.  ``max_line`` and ``max_greeting_lines`` bound what one line and the
    lines before the banner may hold (memory stays flat whatever the server sends)."""

    def __init__(self, transport, *, timeout: float = 30.0, dialect: str | None = None,
                 on_wire=None, target: str = "", learn: bool = True,
                 deadline: float | None = None, max_line: int = MAX_REPLY_LINE,
                 max_greeting_lines: int = 1000, gate=None) -> None:
        self.transport = transport
        self.gate = gate                  # guard.Gate: asked before every command is sent
        self.max_line = max_line
        self.max_greeting_lines = max_greeting_lines
        self.conn = self.new_codec(dialect)
        self.login: str | None = None
        self.timeout = timeout
        self.deadline = deadline if deadline is not None else 20 * timeout
        self._reply_ends_by: float | None = None
        self.on_wire = on_wire
        # whether on_wire takes a big listing's run whole (many lines in one call) rather
        # than line by line: the raw view writes it in one go; a per-line trace cannot
        self.wire_in_regions = False            # (direction "C"/"S", raw bytes) for the wire view
        self.target = target
        self.banner: Banner | None = None
        self.user: str | None = None
        self.user_since: float | None = None
        self.selected: str | None = None
        self.last_rtt: float | None = None
        self.in_flight_line: str | bytes | None = None    # the command whose reply is due
        self.ahead: deque = deque()       # lines sent ahead, replies due after that one
        self._sent_at = 0.0
        self._due_audit = None            # (verdict, line) of a write whose reply is due
        self.learnt = Learnt() if learn else None    # completion only: scripts skip it
        self.closed = False

    @property
    def dialect(self) -> str | None:
        return self.conn.dialect

    def new_codec(self, dialect: str | None = None) -> ClientConnection:
        """A documented-dialect codec with this session's limits (a fresh greeting)."""
        return ClientConnection(dialect, max_line=self.max_line,
                                max_greeting_lines=self.max_greeting_lines)

    def _start_clock(self) -> None:
        """The overall deadline of the reply (or greeting) now awaited starts now."""
        self._reply_ends_by = time.monotonic() + self.deadline if self.deadline else None

    def _wait(self) -> float:
        """How long the next read may wait: the idle timeout, within the deadline."""
        if self._reply_ends_by is None:
            return self.timeout
        left = self._reply_ends_by - time.monotonic()
        if left <= 0:
            self.closed = True          # the rest of the reply would come out of step
            raise ConnectionLost(f"the reply from {self.target or 'the server'} did not end "
                                 f"within {self.deadline:g}s (the overall deadline: "
                                 "--deadline SECONDS raises it)")
        return min(self.timeout, left)

    def _next_event(self):
        while True:
            event = self.conn.next_event()
            if event is not NEED_DATA:
                if self.on_wire is not None:
                    if isinstance(event, MessageBatch) and self.wire_in_regions:
                        self.on_wire("S", self.conn.last_raw)
                    elif isinstance(event, MessageBatch):
                        # the wire view sees what the one-by-one path would show it
                        for piece in self.conn.wire_pieces(self.conn.last_raw):
                            self.on_wire("S", piece)
                    elif self.conn.last_raw:        # (events of an already shown line: none)
                        self.on_wire("S", self.conn.last_raw)
                return event
            wait = self._wait()
            try:
                data = self.transport.recv(wait)
            except ConnectionLost:
                self.closed = True
                if wait < self.timeout:
                    self._wait()            # the deadline, not the idle timeout, ran out
                raise
            if not data:
                self.closed = True
                raise ConnectionLost("the server closed the connection")
            self.conn.receive_data(data)

    def open(self) -> Banner:
        """Read the greeting (capability lines, then the banner); a modern server's banner
        switches the session to the dlist codec."""
        self._start_clock()
        while True:
            event = self._next_event()
            if isinstance(event, Banner):
                self.banner = event
                if event.dialect == "csync":
                    from syncsh.protocol.csync import CsyncConnection
                    self.conn = CsyncConnection(event, self.conn.framer.take_rest(),
                                                max_line=self.max_line)
                return event

    @property
    def table(self):
        return commands.table_for(self.dialect)

    def authenticate(self, mech_name: str, user: str, password: str) -> Done:
        """SASL AUTHENTICATE; nothing of it reaches the wire view, the trace or history."""
        import base64
        from syncsh.protocol import sasl
        mech = sasl.mechanism(mech_name, user, password)
        wire, self.on_wire = self.on_wire, None
        try:
            first = mech.initial()
            line = f"AUTHENTICATE {mech.name}"
            if first is not None:
                line += " " + (base64.b64encode(first).decode() or "=")
            data = self.conn.send(line)
            self.transport.send(data)
            self._start_clock()
            steps = 0
            while True:
                event = self._next_event()
                if isinstance(event, Done):
                    return event
                if isinstance(event, Continuation):
                    steps += 1
                    if steps > MAX_SASL_STEPS:      # (PLAIN would resend the password)
                        self.closed = True
                        raise ProtocolError(f"the server asked for more than {MAX_SASL_STEPS} "
                                            "SASL steps: the login was given up")
                    try:
                        challenge = base64.b64decode(event.text.strip() or b"", validate=True)
                    except ValueError:
                        raise ProtocolError("a SASL challenge that is not base64") from None
                    answer = base64.b64encode(mech.respond(challenge)).decode()
                    self.transport.send(answer.encode() + b"\r\n")
        except ConnectionLost:
            self.closed = True
            raise
        finally:
            self.on_wire = wire

    def execute(self, line: str | bytes, *, batches: bool = False, confirmed: bool = False):
        """Send one command; yield its reply events, the last being Done.  With
        ``batches``, the messages of a big listing may come as MessageBatch runs (renderers
        and diff read those by column); without, always one Message at a time.

        The guard rail's gate judges every line of it first (WriteRefused: nothing sent);
        ``confirmed``: the user said yes to this write at the prompt."""
        self.send(line, batches=batches, confirmed=confirmed)
        yield from self.replies()

    def send(self, line: str | bytes, *, batches: bool = False,
             confirmed: bool = False) -> None:
        """Send one command without reading its reply (replies() does): a transcript's
        second session checks a reply that waits on a lock only when it is written."""
        if self.closed:
            raise ConnectionLost("the connection is closed")
        verdict = self.gate.check(self.table, line, confirmed=confirmed) \
            if self.gate is not None else None
        while self.conn.in_flight is not None:
            self.finish_interrupted()
        data = self.conn.send(line)
        self.in_flight_line = line
        self.conn.batch = batches
        if self.on_wire is not None:
            self.on_wire("C", data)
        self._sent_at = time.monotonic()
        self._start_clock()
        if verdict is not None and verdict.write:
            self._due_audit = (verdict, line)
        try:
            self.transport.send(data)
        except ConnectionLost:
            self.closed = True
            self._audit(None)
            raise
        self.last_rtt = None

    def send_ahead(self, lines: list) -> None:
        """Pipelining, for reads of the modern dialect (an audit asks for several users at
        once): the lines go out in one write, each judged by the gate as send() judges one;
        their replies are then read in order, one replies() each. A write is refused."""
        if self.closed:
            raise ConnectionLost("the connection is closed")
        if self.dialect != "csync":
            raise ProtocolError("only the modern dialect's reads are sent ahead")
        for line in lines:
            verdict = self.gate.check(self.table, line) if self.gate is not None else None
            text = line if isinstance(line, str) else line.decode("utf-8", "replace")
            if verdict.write if verdict is not None else self.is_write(text):
                raise ProtocolError("a write is never sent ahead of its turn")
        while self.conn.in_flight is not None:
            self.finish_interrupted()
        data = []
        for line in lines:
            data.append(self.conn.send(line))
            self.ahead.append((line, self.conn.in_flight))
            self.conn.in_flight = None            # the codec hears of each in its turn
        if not lines:
            return
        if self.on_wire is not None:
            for piece in data:
                self.on_wire("C", piece)
        try:
            self.transport.send(b"".join(data))
        except ConnectionLost:
            self.closed = True
            raise
        self._next_ahead()

    def _next_ahead(self) -> None:
        """The next reply due is that of the first line sent ahead."""
        self.in_flight_line, self.conn.in_flight = self.ahead.popleft()
        self._sent_at = time.monotonic()
        self._start_clock()
        self.last_rtt = None

    def replies(self):
        """The reply events of the command sent last, the last being Done."""
        line = self.in_flight_line
        while True:
            try:
                event = self._next_event()
            except ConnectionLost:
                self._audit(None)
                raise
            if self.last_rtt is None:
                # the round trip: until the reply's first line, not the time spent by
                # whoever reads the events (a big listing, a table being drawn)
                self.last_rtt = time.monotonic() - self._sent_at
            if self.learnt is not None:
                self.learnt.note(event)
            if isinstance(event, Done):
                self.in_flight_line = None
                self._audit(event)
                self._track(line, event)
                if self.ahead:
                    self._next_ahead()
                yield event
                return
            yield event

    def _audit(self, done) -> None:
        """The write whose reply is due went out: the gate writes it down (reply or not)."""
        due, self._due_audit = self._due_audit, None
        if due is not None and self.gate is not None:
            self.gate.sent(due[0], due[1], done)

    def finish_interrupted(self) -> Done:
        """A command whose reply was cut short here (Ctrl-C while it was on its way): read the
        rest of that reply and drop it, so that the next command gets its own.  What it did
        to the server's state (a lock taken, a mailbox selected) is still mirrored."""
        wire, self.on_wire = self.on_wire, None
        self._start_clock()
        try:
            while True:
                event = self._next_event()
                if isinstance(event, Done):
                    line, self.in_flight_line = self.in_flight_line, None
                    self._audit(event)
                    self._track(line or "", event)
                    if self.ahead:
                        self._next_ahead()
                    return event
        finally:
            self.on_wire = wire

    def run(self, line: str | bytes, *, confirmed: bool = False) -> tuple[list, Done]:
        events = list(self.execute(line, confirmed=confirmed))
        return events[:-1], events[-1]

    def _track(self, line, done: Done) -> None:
        """Mirror the server's session state."""
        if isinstance(line, bytes):
            line = line[:1024].decode("utf-8", "surrogateescape")
        words = line.split()
        word = words[0].upper() if words else ""
        if word == "EXIT":
            self.closed = done.ok
            self.user = self.selected = None
        if not done.ok:
            if word == "SELECT":
                self.selected = None
            return
        if word in ("USER", "USER_SOME", "USER_ALL", "RESET") and len(words) > 1:
            if self.user != words[1]:
                self.user_since = time.monotonic()
            self.user = words[1]
            self.selected = None
            if self.learnt is not None:
                self.learnt.users.add(words[1])
        elif word in ("ENDUSER", "RESTART"):
            self.user = self.selected = self.user_since = None
        elif word == "SELECT" and len(words) > 1 and isinstance(done.data, SelectInfo):
            self.selected = words[1].strip('"')
            if self.learnt is not None:
                self.learnt.mailboxes.add(self.selected)

    def is_write(self, line: str) -> bool:
        return commands.is_write(self.table, line)

    def close(self) -> None:
        """EXIT when the connection is idle and alive, then let the transport go."""
        if not self.closed and self.banner is not None and self.conn.in_flight is None:
            self.on_wire = None          # the closing EXIT is ours, not the user's
            try:
                for _ in self.execute("EXIT"):
                    pass
            except (ConnectionLost, ProtocolError, OSError):
                pass
        self.closed = True
        self.transport.close()
