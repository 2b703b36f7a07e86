"""One connection to the reference sync_server (legacy-protocol.md sections 3, 6–9, 11.4).

Sans-IO with respect to the connection: ``receive(bytes)`` yields what to write, in
order, as ``(OUT, bytes)`` for the protocol stream and ``(TRACE, str)`` for the ``-v -v``
trace on stderr.  The store is the only thing it touches.  The commands are handled in
``syncsh.server.handlers`` (a table keyed by the command table's names); this module holds
the session: framing, dispatch, the user lock, the selected mailbox, staged bodies.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import time

from syncsh.errors import ProtocolError
from syncsh.printable import printable
from syncsh.protocol.wire import ATOM, ContinuationRequest, FrameError, Framer, astring, decode, tokenize
from syncsh.server.args import Args, Bad, No
from syncsh.server.common import (MAX_LINE, MAX_LITERAL, OUT, SEED_BANNER, STAGING_LIMIT, TRACE,
                                  Staged, final_reply, shown, valid_mailbox_name, valid_user)
from syncsh.server import handlers  # noqa: F401  (its modules fill the table)
from syncsh.server.registry import DIALECT_2005_ONLY, HANDLERS
from syncsh.server.store import Store, StoreError, UserLock

__all__ = ["OUT", "TRACE", "ServerSession"]


class ServerSession:
    def __init__(self, store: Store, *, dialect: str = "seed", lock_timeout: float = 10.0,
                 clock=time.time, staging_limit: int = STAGING_LIMIT,
                 max_line: int = MAX_LINE, max_literal: int = MAX_LITERAL) -> None:
        self.store = store
        self.dialect = dialect
        self.lock_timeout = lock_timeout
        self.clock = clock
        self.staging_limit = staging_limit
        self.framer = Framer(server_side=True, max_line=max_line, max_literal=max_literal)
        self.user: str | None = None
        self.lock: UserLock | None = None
        self.selected = None
        self.staged: dict[str, Staged] = {}
        self.staged_bytes = 0
        self.closed = False

    # ------------------------------------------------------------------ framing

    def banner(self) -> bytes:
        if self.dialect == "2005":
            host = socket.gethostname() or "localhost"
            return b"* OK %s Cyrus sync server 2.2.12-syncsh\r\n" % host.encode()
        return SEED_BANNER

    def receive(self, data: bytes):
        """Feed bytes from the client; yield (channel, payload) in the order to write."""
        self.framer.feed(data)
        while not self.closed:
            item = self.framer.next_item()
            if item is None:
                return
            if isinstance(item, ContinuationRequest):
                yield OUT, b"+ go ahead\r\n"
            elif isinstance(item, FrameError):
                yield OUT, b"BAD %s\r\n" % item.reason.encode()
            else:
                yield from self.execute(item)

    def end(self) -> None:
        """The connection is gone: what EXIT would have released goes now."""
        self.release_user()
        self.staged.clear()
        self.closed = True

    # ------------------------------------------------------------------ dispatch

    def execute(self, line):
        word, tokens, error = self._split(line)
        if word is None:
            yield OUT, b"BAD Null command\r\n"
            return
        handler = HANDLERS.get(word.upper())
        if handler is None or (word.upper() in DIALECT_2005_ONLY and self.dialect == "seed"):
            yield OUT, b"BAD Unrecognized command\r\n"
            return
        command = word.capitalize()
        if error:
            yield OUT, b"BAD Syntax error in %s: %s\r\n" % (command.encode(), error.encode())
            return
        args = Args(command, tokens)
        try:
            yield from handler(self, args)
        except Bad as exc:
            yield OUT, final_reply(b"BAD", str(exc))
        except No as exc:
            yield OUT, final_reply(b"NO", str(exc))
        except sqlite3.Error as exc:    # the store's own text is no reply: said in ours
            yield TRACE, f"   {command}: mailstore error: {printable(str(exc))}"
            yield OUT, final_reply(b"NO", f"{command} failed: the mailstore could not "
                                          "make the change")
        except Exception as exc:       # never crash: the transaction has rolled back
            yield OUT, final_reply(b"NO", f"{command} failed: {exc}")

    @staticmethod
    def _split(line):
        """(command word, tokens, tokenizer error) of a logical line."""
        first = line if isinstance(line, bytes) else line.parts[0]
        word = first.split(b" ", 1)[0]
        if not word or word[:1] in b'"({)':
            return None, None, None
        try:
            tokens = tokenize(line)
        except ProtocolError as exc:
            return decode(word), None, str(exc)
        if tokens[0].kind != ATOM:
            return None, None, None
        return decode(tokens[0].value), tokens, None

    # ------------------------------------------------------------------ helpers

    def trace(self, text: str):
        return TRACE, "   " + printable(text)        # (names may hold control bytes)

    def need_user(self, text: str = "User not selected") -> str:
        if self.user is None:
            raise No(text)
        return self.user

    def need_mailbox(self, text: str = "Mailbox not open"):
        if self.selected is None:
            raise No(text)
        return self.selected

    def take_user(self, user: str) -> None:
        """Become the current user, holding its lock (USER, USER_SOME, USER_ALL, RESET)."""
        if not valid_user(user):
            raise No(f"Failed to lock {shown(user)}: Invalid user name")
        self.selected = None
        if self.user == user and self.lock is not None:
            return
        self.release_user()
        lock = UserLock(self.store.directory, user)
        try:
            lock.acquire(self.lock_timeout)
        except StoreError as exc:
            raise No(f"Failed to lock {shown(user)}: {exc}") from None
        self.user, self.lock = user, lock

    def release_user(self) -> None:
        if self.lock is not None:
            self.lock.release(remove=not self._holds(self.lock.user))
        self.user = self.lock = self.selected = None

    def _holds(self, user: str) -> bool:
        """Whether the store holds the user, so that its lock file stays: a lock taken for a
        name it does not hold (a mistyped user, one a diff finds on neither end) must not
        leave a file per name behind.  Unknown (the store gone): the file stays."""
        try:
            return self.store.holds_user(user)
        except sqlite3.Error:
            return True

    def mailbox_header(self, box) -> bytes:
        lastread, last_recent, lastchange, _ = self.store.seen(self.user, box.id)
        line = b"** %s %s %s %d %d" % (box.uniqueid.encode(), astring(box.name),
                                       astring(box.acl), box.uidlast, lastchange)
        if self.dialect == "2005":
            line += b" %d" % last_recent
        return line + b"\r\n"

    def message_lines(self, box_id: int):
        lines = []
        for uid, guid, flags in self.store.message_lines(box_id):
            lines.append(b"* %d %s (%s)\r\n" % (uid, guid.encode(), flags.encode()))
            if len(lines) >= 4096:
                yield OUT, b"".join(lines)
                lines = []
        if lines:
            yield OUT, b"".join(lines)

    def dump_mailbox(self, name: str):
        box = self.store.mailbox(name) if valid_mailbox_name(name) else None
        if box is None:
            return
        yield OUT, self.mailbox_header(box)
        yield from self.message_lines(box.id)

    def stage(self, guid: str, staged: Staged) -> None:
        if guid not in self.staged:
            self.staged[guid] = staged
            self.staged_bytes += len(staged.body)

    @contextlib.contextmanager
    def committed(self, failure: str):
        """One write transaction; a store error is the command's NO, worded
        ``failure: why`` (the transaction has rolled back)."""
        try:
            with self.store.write():
                yield
        except StoreError as exc:
            raise No(f"{failure}: {exc}") from None

    def reload_selected(self):
        box = self.store.mailbox(self.selected.name) if self.selected else None
        if box is None or box.id != self.selected.id:
            self.selected = None
            raise No("Mailbox not open")
        self.selected = box
        return box
