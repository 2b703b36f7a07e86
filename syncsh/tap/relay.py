"""The tap's core, sans-IO: the bytes of each direction in, decoded events out.

The relay never changes what passes.  It reads copies: the client's stream is cut into
commands (frames.py), the server's is read by the project's own codecs (the documented
dialect's until the banner says otherwise, then the dlist codec).  After COMPRESS DEFLATE
both copies are inflated with zlib (raw deflate, as Cyrus sends it).  The one exception
the user may ask for is --no-starttls: the STARTTLS line is removed from the greeting the
client sees, so that a passive tap can go on reading (``from_server`` returns the bytes
to forward).  Authentication is never shown: AUTHENTICATE becomes its mechanism and its
outcome, the challenges and responses are dropped unread.
"""

from __future__ import annotations

import zlib
from collections import deque

from syncsh.errors import ProtocolError
from syncsh.protocol.events import Banner, Continuation, Done, NEED_DATA, Untagged
from syncsh.protocol.legacy import ClientConnection
from syncsh.tap import events as ev
from syncsh.tap.frames import CommandFramer, Framed
from syncsh.tap.summary import describe, printable


NORMAL_END = "after EXIT, a normal end"
MAX_COMMAND = 512 << 20          # the most of one client command held to be read


class Relay:
    def __init__(self, conn: int, *, strip_starttls: bool = False,
                 tls_terminated: bool = False) -> None:
        self.conn = conn
        self.strip_starttls = strip_starttls
        self.tls_terminated = tls_terminated   # the pump speaks TLS to both sides itself
        self.framer = CommandFramer()
        self.codec = ClientConnection()
        self.banner: Banner | None = None
        self.greeting: list[str] = []
        self.removed: list[str] = []
        self.pending: deque[tuple[str, str, float]] = deque()  # (verb, label, sent at)
        self.out: list = []
        self.client_bytes = self.server_bytes = 0
        self.commands = 0
        self.first_failure: str | None = None
        self.auth: str | None = None        # the mechanism while AUTHENTICATE runs
        self.auth_tag: str | None = None    # its tag, when sync_client speaks IMAP
        self.switching: str | None = None   # COMPRESS/STARTTLS sent: the client's next bytes wait
        self.held = bytearray()
        self.client_inflate = self.server_inflate = None
        self.opaque = False                 # TLS passed through: nothing more can be read
        self.greeting_buf = b""             # --no-starttls: the greeting's incomplete line
        self.greeting_done = not strip_starttls
        self.ended = False
        self.client_unread = False          # a command too large to hold was seen
        self.last_finished: str | None = None
        self.tls_started = False            # STARTTLS accepted and the pump ends TLS itself

    # ------------------------------------------------------------------ input
    def events(self) -> list:
        out, self.out = self.out, []
        return out

    def opened(self, now: float, peer: str, target: str, wallclock: float) -> None:
        self.out.append(ev.Opened(self.conn, now, peer, target, wallclock))

    def from_client(self, data: bytes, now: float) -> None:
        self.client_bytes += len(data)
        if self.opaque or self.ended or self.client_unread:
            return
        if self.switching:
            self.held += data
            return
        if self.client_inflate is not None:
            data = self._inflate(self.client_inflate, data, "client", now)
            if data is None:
                return
        self.framer.feed(data)
        self._commands(now)
        if self.framer.pending > MAX_COMMAND:
            # held whole to be read: past this size the client's side is relayed unread
            self.framer.take_rest()
            self.client_unread = True
            self.out.append(ev.Note(self.conn, now, f"a command over {MAX_COMMAND >> 20} MiB: "
                                                    "the client's side is no longer decoded "
                                                    "(it is still relayed)", True))

    def from_server(self, data: bytes, now: float) -> bytes:
        """Decode a copy; the bytes to forward (the same, but for --no-starttls)."""
        self.server_bytes += len(data)
        forward = data if self.greeting_done else self._filter_greeting(data)
        if self.opaque or self.ended:
            return forward
        if self.server_inflate is not None:
            data = self._inflate(self.server_inflate, data, "server", now)
            if data is None:
                return forward
        self.codec.receive_data(data)
        self._replies(now)
        return forward

    def closed(self, side: str, why: str, now: float) -> None:
        if self.ended:
            return
        self.ended = True
        waiting = self.pending[0][1] if self.pending else None
        if not why and waiting is None and self.last_finished == "EXIT":
            why = NORMAL_END
        stats = ev.Stats(self.commands, self.client_bytes, self.server_bytes, now,
                         self.first_failure)
        self.out.append(ev.Closed(self.conn, now, side, why, stats, waiting))

    # ------------------------------------------------------------------ client side
    def _commands(self, now: float) -> None:
        while not self.switching:
            framed = self.framer.next_command()
            if framed is None:
                return
            self._command(framed, now)

    def _command(self, framed: Framed, now: float) -> None:
        if self.auth is not None:
            return                        # a SASL response: never read, never kept
        words = framed.head.split(None, 2)
        verb = words[0].decode("utf-8", "replace").upper() if words else ""
        kind = words[1].decode("utf-8", "replace").upper() if len(words) > 1 else ""
        if kind in ("AUTHENTICATE", "LOGIN") and verb not in ("GET", "APPLY", "RESTORE"):
            # sync_try_imap: a tagged IMAP login ("A01 AUTHENTICATE PLAIN …"), never shown
            self.auth_tag = words[0].decode("utf-8", "replace")
            parts = framed.head.split(None, 3)
            mech = parts[2] if kind == "AUTHENTICATE" and len(parts) > 2 else b"LOGIN"
            verb, kind = "AUTHENTICATE", mech.decode("utf-8", "replace").upper()
        if verb == "AUTHENTICATE":
            self.auth = printable(kind) or "?"
            self.out.append(ev.Sent(self.conn, now, verb, f"AUTHENTICATE {self.auth}",
                                    len(framed.raw), None))
        else:
            self.commands += 1
            self.out.append(ev.Sent(self.conn, now, verb, describe(verb, kind, framed),
                                    len(framed.raw), framed))
        if verb in ("COMPRESS", "STARTTLS"):
            self.switching = verb
            self.held += self.framer.take_rest()
        label = f"{verb} {kind}" if verb in ("GET", "APPLY", "RESTORE") and kind else verb
        self.pending.append((verb, printable(label), now))
        if len(self.pending) == 1:
            self._begin(verb)

    def _begin(self, verb: str) -> None:
        """Tell the codec which command the next reply lines answer."""
        codec = self.codec
        codec.in_flight = None
        if isinstance(codec, ClientConnection):
            if codec.banner is None:
                return
            try:
                codec.send(verb.encode("utf-8", "replace") or b"?")
            except ProtocolError:
                pass
        else:
            codec.in_flight = verb or "?"

    # ------------------------------------------------------------------ server side
    def _replies(self, now: float) -> None:
        while not self.opaque:
            event = self.codec.next_event()
            if event is NEED_DATA:
                return
            raw = self.codec.last_raw
            if self.banner is None:
                self._greeting_event(event, now)
            elif self.auth is not None:
                self._auth_event(event, now)
            elif isinstance(event, Done):
                self._done(event, raw, now)
            else:
                command = self.pending[0][1] if self.pending else ""
                self.out.append(ev.Received(self.conn, now, command, event, raw))

    def _greeting_event(self, event, now: float) -> None:
        if isinstance(event, Banner):
            self.banner = event
            self.greeting.append(event.text)
            if event.dialect == "csync":
                from syncsh.protocol.csync import CsyncConnection
                self.codec = CsyncConnection(event, self.codec.framer.take_rest())
            self.out.append(ev.Greeted(self.conn, now, event, tuple(self.greeting),
                                       tuple(self.removed)))
            if self.pending:
                self._begin(self.pending[0][0])
        elif isinstance(event, Untagged):
            self.greeting.append(event.text)
            if event.problem:
                self.out.append(ev.Note(self.conn, now, f"greeting: {event.problem}: "
                                        f"{printable(event.text)[:200]}", True))

    def _auth_event(self, event, now: float) -> None:
        if isinstance(event, Continuation):
            return                        # a SASL challenge: never shown, never kept
        if self.auth_tag and isinstance(event, Untagged):
            tag, _, rest = event.text.partition(" ")
            status, _, text = rest.partition(" ")
            if tag != self.auth_tag or status.upper() not in ("OK", "NO", "BAD"):
                return
            event, self.auth_tag = Done(status.upper(), text, "AUTHENTICATE"), None
        if not isinstance(event, Done):
            if isinstance(event, Untagged) and event.text.startswith("* Fatal"):
                self.out.append(ev.Note(self.conn, now, printable(event.text), True))
            return
        mech, self.auth = self.auth, None
        started = self.pending.popleft()[2] if self.pending else now
        shown = Done(event.status, event.text, f"AUTHENTICATE {mech}", None, event.code)
        if event.status != "OK" and self.first_failure is None:
            self.first_failure = f"AUTHENTICATE {mech}: {event.status} {printable(event.text)}"
        self.out.append(ev.Finished(self.conn, now, f"AUTHENTICATE {mech}", shown,
                                    now - started, b""))
        if self.pending:
            self._begin(self.pending[0][0])

    def _done(self, done: Done, raw: bytes, now: float) -> None:
        verb, label, started = self.pending.popleft() if self.pending else \
            (done.command, printable(done.command), now)
        if done.status != "OK" and self.first_failure is None:
            self.first_failure = f"{label}: {done.status} {printable(done.text)}"[:300]
        self.last_finished = verb
        self.out.append(ev.Finished(self.conn, now, label, done, now - started, raw))
        if verb == "COMPRESS" and self.switching == "COMPRESS":
            self._after_compress(done.status == "OK", now)
        elif verb == "STARTTLS" and self.switching == "STARTTLS":
            self._after_starttls(done.status == "OK", now)
        if self.pending:
            self._begin(self.pending[0][0])

    # ------------------------------------------------------------------ switches
    def _unread_server_bytes(self) -> bytes:
        codec = self.codec
        reader = getattr(codec, "reader", None)
        if reader is not None:
            rest = bytes(reader.buf[reader.pos:])
            reader.buf = reader.buf[:reader.pos]
            return rest
        return codec.framer.take_rest()

    def _fresh_codec(self) -> None:
        if self.banner is not None and self.banner.dialect == "csync":
            from syncsh.protocol.csync import CsyncConnection
            self.codec = CsyncConnection(self.banner)
        else:
            self.codec = ClientConnection()

    def _after_compress(self, active: bool, now: float) -> None:
        self.switching = None
        held, self.held = bytes(self.held), bytearray()
        if active:
            rest = self._unread_server_bytes()
            self._fresh_codec()
            self.client_inflate = zlib.decompressobj(-15)
            self.server_inflate = zlib.decompressobj(-15)
            self.out.append(ev.Note(self.conn, now, "COMPRESS DEFLATE active: both directions "
                                                    "are inflated for reading"))
            if rest:
                data = self._inflate(self.server_inflate, rest, "server", now)
                if data:
                    self.codec.receive_data(data)
        if held:
            self.from_client_held(held, now)

    def _after_starttls(self, ok: bool, now: float) -> None:
        self.switching = None
        held, self.held = bytes(self.held), bytearray()
        if not ok:
            if held:
                self.from_client_held(held, now)
            return
        if self.tls_terminated:
            # the pump speaks TLS with both sides: what follows is plain to us, and the
            # server greets again
            self._unread_server_bytes()
            self.tls_started = True
            self.banner, self.greeting, self.removed = None, [], []
            self.codec = ClientConnection()
            self.out.append(ev.Note(self.conn, now, "STARTTLS: TLS terminated by the tap on "
                                                    "both sides; decoding goes on"))
            return
        self.opaque = True
        self.out.append(ev.Note(self.conn, now, "STARTTLS: the rest of this connection is "
                                                "encrypted and cannot be decoded (use "
                                                "--no-starttls or --tls-cert/--tls-key)", True))

    def from_client_held(self, held: bytes, now: float) -> None:
        """Bytes the client sent while the switch was undecided, read now that it is."""
        self.client_bytes -= len(held)        # already counted once
        self.from_client(held, now)

    def _inflate(self, inflater, data: bytes, side: str, now: float) -> bytes | None:
        try:
            return inflater.decompress(data)
        except zlib.error as exc:
            self.opaque = True
            self.out.append(ev.Note(self.conn, now, f"the {side}'s compressed stream cannot be "
                                                    f"inflated ({exc}): decoding stops", True))
            return None

    # ------------------------------------------------------------------ --no-starttls
    def _filter_greeting(self, data: bytes) -> bytes:
        buf = self.greeting_buf + data
        out = []
        while not self.greeting_done:
            end = buf.find(b"\n")
            if end < 0:
                break
            line, buf = buf[:end + 1], buf[end + 1:]
            text = line.rstrip(b"\r\n").decode("utf-8", "replace")
            if text.upper() == "* STARTTLS":
                self.removed.append(text)
                continue
            out.append(line)
            if text.startswith("* OK") or not text.startswith("* "):
                self.greeting_done = True
        if self.greeting_done:
            out.append(buf)
            buf = b""
        self.greeting_buf = buf
        return b"".join(out)
