"""One connection to the reference sync_server (legacy-protocol.md sections 3, 6–9, 11.4).

Sans-IO with respect to the connection: ``receive(bytes)`` yields what to write, in
order, as ``(OUT, bytes)`` for the protocol stream and ``(TRACE, str)`` for the ``-v -v``
trace on stderr.  The store is the only thing it touches.
"""

from __future__ import annotations

import re
import socket
import sqlite3
import time
from dataclasses import dataclass

from syncsh.model import is_null_guid, mailbox_uniqueid
from syncsh.protocol.wire import (ATOM, LITERAL, SP, STRING, ContinuationRequest, FrameError, Framer,
                                  Token, astring, decode, literal, quoted_or_literal, tokenize)
from syncsh.errors import ProtocolError
from syncsh.printable import printable
from syncsh.server.args import Args, Bad, No, read_flag_list, to_number
from syncsh.server.store import NewMessage, Store, StoreError, UserLock

OUT, TRACE = 1, 2
SEED_BANNER = b"* Sync Server v0.0 [EXPERIMENTAL]\r\n"
STAGING_LIMIT = 512 << 20
MAX_LINE = 16 << 20          # a physical command line (UPLOAD of many COPY items fits)
MAX_LITERAL = 256 << 20      # one message or script; a larger one is refused, never allocated

_GUID24 = re.compile(rb"[0-9a-fA-F]{24}\Z")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-+=@^~]{0,63}\Z")
_UNIQUEID = re.compile(r"[0-9A-Za-z_\-]{1,64}\Z")


def valid_mailbox_name(name: str) -> bool:
    if not name or len(name.encode("utf-8", "surrogateescape")) > 490:
        return False
    if any(ord(c) < 0x20 or c == "\x7f" for c in name):
        return False
    return "" not in name.split(".")


def valid_user(user: str) -> bool:
    return _USER.match(user) is not None


def _shown(value: str, *, quoted: bool = False) -> str:
    """A name or user in a reply text, as the protocol prints it (section 4.2): as it is
    (or between quotes) when a quoted string could hold it, else a literal, so that a CR or
    LF in it can never end the reply line early and forge another."""
    data = value.encode("utf-8", "surrogateescape")
    if not _UNQUOTABLE.search(data):
        return f'"{value}"' if quoted else value
    return decode(literal(data))


_UNQUOTABLE = re.compile(rb"[\r\n\x00]")


def final_reply(status: bytes, text: str) -> bytes:
    """``status text`` CRLF, checked to be one logical line: whatever a text quotes (an
    exception's words, a name) can never make two replies of one."""
    line = status + b" " + text.encode("utf-8", "surrogateescape") + b"\r\n"
    framer = Framer()
    framer.feed(line)
    if framer.next_item() is None or framer.pending:
        line = status + b" " + _UNQUOTABLE.sub(b" ", line[len(status) + 1:-2]) + b"\r\n"
    return line


@dataclass(slots=True)
class Staged:
    body: bytes
    hdrsize: int
    lines: int
    cache_version: int = 0
    cache: bytes | None = None


def parse_body(body: bytes) -> tuple[int, int]:
    """Header size and body line count, as the server works them out for SIMPLE items."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = body.find(sep)
        if i >= 0:
            hdrsize = i + len(sep)
            return hdrsize, body.count(b"\n", hdrsize)
    return len(body), 0


def in_sequence_set(uid: int, seqset: str) -> bool:
    for item in filter(None, seqset.split(",")):
        low, _, high = item.partition(":")
        try:
            a = int(low)
            b = int(high) if high and high != "*" else (1 << 32 if high == "*" else a)
        except ValueError:
            continue
        if min(a, b) <= uid <= max(a, b):
            return True
    return False


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
        self._release_user()
        self.staged.clear()
        self.closed = True

    # ------------------------------------------------------------------ dispatch

    def execute(self, line):
        word, tokens, error = self._split(line)
        if word is None:
            yield OUT, b"BAD Null command\r\n"
            return
        name = word.lower()
        handler = getattr(self, "cmd_" + name, None) if name.isidentifier() else None
        if handler is None or (name in ("authenticate", "starttls") and self.dialect == "seed"):
            yield OUT, b"BAD Unrecognized command\r\n"
            return
        command = word.capitalize()
        if error:
            yield OUT, b"BAD Syntax error in %s: %s\r\n" % (command.encode(), error.encode())
            return
        args = Args(command, tokens)
        try:
            yield from handler(args)
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

    def _trace(self, text: str):
        return TRACE, "   " + printable(text)        # (names may hold control bytes)

    def _need_user(self, text: str = "User not selected") -> str:
        if self.user is None:
            raise No(text)
        return self.user

    def _need_mailbox(self, text: str = "Mailbox not open"):
        if self.selected is None:
            raise No(text)
        return self.selected

    def _take_user(self, user: str) -> None:
        """Become the current user, holding its lock (USER, USER_SOME, USER_ALL, RESET)."""
        if not valid_user(user):
            raise No(f"Failed to lock {_shown(user)}: Invalid user name")
        self.selected = None
        if self.user == user and self.lock is not None:
            return
        self._release_user()
        lock = UserLock(self.store.directory, user)
        try:
            lock.acquire(self.lock_timeout)
        except StoreError as exc:
            raise No(f"Failed to lock {_shown(user)}: {exc}") from None
        self.user, self.lock = user, lock

    def _release_user(self) -> None:
        if self.lock is not None:
            self.lock.release()
        self.user = self.lock = self.selected = None

    def _mailbox_header(self, box) -> bytes:
        lastread, last_recent, lastchange, _ = self.store.seen(self.user, box.id)
        line = b"** %s %s %s %d %d" % (box.uniqueid.encode(), astring(box.name),
                                       astring(box.acl), box.uidlast, lastchange)
        if self.dialect == "2005":
            line += b" %d" % last_recent
        return line + b"\r\n"

    def _message_lines(self, box_id: int):
        lines = []
        for uid, guid, flags in self.store.message_lines(box_id):
            lines.append(b"* %d %s (%s)\r\n" % (uid, guid.encode(), flags.encode()))
            if len(lines) >= 4096:
                yield OUT, b"".join(lines)
                lines = []
        if lines:
            yield OUT, b"".join(lines)

    def _dump_mailbox(self, name: str):
        box = self.store.mailbox(name) if valid_mailbox_name(name) else None
        if box is None:
            return
        yield OUT, self._mailbox_header(box)
        yield from self._message_lines(box.id)

    def _stage(self, guid: str, staged: Staged) -> None:
        if guid not in self.staged:
            self.staged[guid] = staged
            self.staged_bytes += len(staged.body)

    # ------------------------------------------------------------------ user commands

    def cmd_user(self, a: Args):
        user = a.astring()
        a.end()
        yield self._trace(f"USER {user}")
        self._take_user(user)
        yield OUT, b"OK Locked %s\r\n" % user.encode()

    def cmd_user_some(self, a: Args):
        user = a.astring()
        mailboxes = []
        if not a.more():
            raise a.missing()
        while a.more():
            a.space()
            token = a.take()
            if token is None or token.kind not in (ATOM, STRING, LITERAL):
                raise Bad(f"Syntax error in Status_Full at item {len(mailboxes) + 1}: "
                          "Invalid end of sequence")
            mailboxes.append(decode(token.value))
        if not a.at_end:
            raise Bad(f"Syntax error in Status_Full at item {len(mailboxes) + 1}: "
                      "Invalid end of sequence")
        yield self._trace(" ".join(["USER_SOME", user] + mailboxes))
        self._take_user(user)
        with self.store.read():
            for name in mailboxes:
                yield from self._dump_mailbox(name)
        yield OUT, b"OK User_Some finished\r\n"

    def cmd_user_all(self, a: Args):
        user = a.astring()
        a.end()
        yield self._trace(f"USER_ALL {user}")
        self._take_user(user)
        with self.store.read():
            names = self.store.user_mailbox_names(user)
            if not names or names[0] != "user." + user:
                raise No(f"IMAP_MAILBOX_NONEXISTENT Failed to access inbox for {_shown(user)}: "
                         "Mailbox does not exist")
            for name in names:
                yield from self._dump_mailbox(name)
            for name in self.store.subscriptions(user):
                yield OUT, b"*** %s\r\n" % astring(name)
            for name, mtime, active in self.store.sieve_scripts(user):
                yield OUT, b"**** %s %d%s\r\n" % (astring(name), mtime, b" *" if active else b"")
            limit = self.store.quota("user." + user)
        yield OUT, b"OK %d\r\n" % (limit or 0)

    def cmd_enduser(self, a: Args):
        a.end()
        yield self._trace("ENDUSER")
        user = self.user
        self._release_user()
        state = b"CONTINUE"
        if self.staged_bytes > self.staging_limit:
            self.staged.clear()
            self.staged_bytes = 0
            state = b"RESTART"
        suffix = b" " + user.encode() if user else b""
        yield OUT, b"OK [%s] Unlocked%s\r\n" % (state, suffix)

    def cmd_reset(self, a: Args):
        user = a.astring()
        a.end()
        yield self._trace(f"RESET {user}")
        self._take_user(user)
        try:
            with self.store.write():
                self.store.reset_user(user)
        except StoreError as exc:
            raise No(f"Failed to reset account {_shown(user)}: {exc}") from None
        yield OUT, b"OK Account reset\r\n"

    # ------------------------------------------------------------------ mailbox selection

    def cmd_select(self, a: Args):
        name = a.astring()
        a.end()
        yield self._trace(f"SELECT {name}")
        self.selected = None
        self._need_user("No user selected")
        box = self.store.mailbox(name) if valid_mailbox_name(name) else None
        if box is None:
            reason = "Mailbox does not exist" if valid_mailbox_name(name) else "Invalid mailbox name"
            raise No(f'Failed to select mailbox {_shown(name, quoted=True)}: {reason}')
        lastread, last_recent, lastchange, _ = self.store.seen(self.user, box.id)
        self.selected = box
        reply = b"OK %s %d %d" % (box.uniqueid.encode(), box.uidlast, lastchange)
        if self.dialect == "2005":
            reply += b" %d" % last_recent
        yield OUT, reply + b"\r\n"

    def _reload_selected(self):
        box = self.store.mailbox(self.selected.name) if self.selected else None
        if box is None or box.id != self.selected.id:
            self.selected = None
            raise No("Mailbox not open")
        self.selected = box
        return box

    def cmd_status(self, a: Args):
        a.end()
        yield self._trace("STATUS")
        self._need_mailbox()
        with self.store.read():
            box = self._reload_selected()
            yield from self._message_lines(box.id)
        yield OUT, b"OK %d\r\n" % box.uidlast

    def cmd_info(self, a: Args):
        a.end()
        yield self._trace("INFO")
        self._need_mailbox()
        box = self._reload_selected()
        yield OUT, b"OK %d %d (%s)\r\n" % (box.uidvalidity, box.uidlast,
                                           " ".join(box.userflags).encode())

    # ------------------------------------------------------------------ message commands

    def cmd_setflags(self, a: Args):
        pairs: list = []
        try:
            self._setflags(a, pairs)
        finally:
            # the trace comes when the command has finished, whatever its outcome (spec 11.4)
            yield self._trace(f"SETFLAGS [{len(pairs)} msgs]")
        yield OUT, b"OK Updated flags on %d messages okay\r\n" % len(pairs)

    def _setflags(self, a: Args, pairs: list) -> None:
        box = self._need_mailbox()
        if a.at_end:
            raise a.missing()

        def invalid_uid():
            return Bad("Syntax error in Setflags: Invalid UID")

        while not a.at_end:
            a.space()
            uid = to_number(a.take(), invalid_uid)
            if uid == 0:
                raise invalid_uid()
            if uid > box.uidlast:
                raise Bad("Syntax error in Setflags: UID out of range")
            token = a.take()
            if token is None or token.kind != SP:
                raise Bad("Garbage at end of Setflags sequence")
            pairs.append((uid, read_flag_list(a, lambda: Bad(
                "Syntax error in Setflags: Invalid flags"))))
        try:
            with self.store.write():
                box = self._reload_selected()
                self.store.set_flags(box, pairs, int(self.clock()))
        except StoreError as exc:
            self.selected = None
            raise No(f"Failed to commit flag update for {box.name}: {exc}") from None

    def cmd_expunge(self, a: Args):
        self._need_mailbox()
        uids = []
        if a.at_end:
            raise a.missing()
        while not a.at_end:
            token = a.take()
            if token.kind != SP:
                raise Bad("Unexpected arguments")
            token = a.take()
            uid = to_number(token, lambda: Bad("Non integer argument"))
            if uids and uid < uids[-1]:
                raise Bad("UID list out of order")
            uids.append(uid)
        yield self._trace(f"EXPUNGE [{len(uids)} msgs]")
        try:
            with self.store.write():
                box = self._reload_selected()
                self.store.expunge(box, uids)
        except StoreError as exc:
            raise No(f"Expunge failed on {self.selected.name}: {exc}") from None
        yield OUT, b"OK Expunge Complete\r\n"

    def cmd_upload(self, a: Args):
        self._need_mailbox("Mailbox not selected")
        items = []
        try:
            uidlast = a.number()
            appenddate = a.number()
            if a.at_end:
                raise a.missing()
            items = self._read_upload_items(a)
        except Bad as exc:
            yield OUT, b"BAD %s\r\n" % str(exc).encode()
            yield self._trace(f"UPLOAD [{len(items)} msgs] [BAD]")
            return
        box = self.selected
        try:
            with self.store.write():
                box = self._reload_selected()
                self.store.add_messages(box, [m for m, _ in items])
                self.store.set_uidlast(box, uidlast, appenddate)
        except StoreError as exc:
            raise No(f"Failed to commit message upload to {box.name}: {exc}") from None
        for message, staged in items:
            if staged is not None:
                self._stage(message.guid, staged)
        yield OUT, b"OK Upload %d messages okay\r\n" % len(items)
        yield self._trace(f"UPLOAD [{len(items)} msgs]")

    def _read_upload_items(self, a: Args):
        items: list[tuple[NewMessage, Staged | None]] = []
        local: dict[str, Staged] = {}
        last_uid = 0
        while not a.at_end:
            n = len(items) + 1

            def fail(reason, n=n):
                return lambda: Bad(f"Syntax error in Append at item {n}: {reason}")

            token = a.take()
            if token.kind != SP:
                raise fail("Invalid end of sequence")()
            kind = _word(a.take()).upper()
            if kind not in ("SIMPLE", "PARSED", "COPY"):
                raise fail("Invalid type")()
            guid = _guid(_field(a, fail("Invalid Message-UUID")), kind, fail("Invalid Message-UUID"))
            uid = to_number(_field(a, fail("Invalid UID")), fail("Invalid UID"))
            if uid == 0 or uid <= last_uid:
                raise fail("Invalid UID")()
            internaldate = to_number(_field(a, fail("Invalid Internaldate")),
                                     fail("Invalid Internaldate"))
            sentdate = to_number(_field(a, fail("Invalid Sentdate")), fail("Invalid Sentdate"))
            updated = to_number(_field(a, fail("Invalid Last update")), fail("Invalid Last update"))
            if not (internaldate and sentdate and updated):
                raise fail("Invalid Internaldate" if not internaldate else
                           "Invalid Sentdate" if not sentdate else "Invalid Last update")()
            token = a.take()
            if token is None or token.kind != SP:
                raise fail("Unexpected end of sync_in at end of item")()
            flags = read_flag_list(a, fail("Invalid flags"))
            if kind == "COPY":
                staged = None if is_null_guid(guid) else (local.get(guid) or self.staged.get(guid))
                if staged is None:
                    raise fail("Unknown Reserved message")()
                new = None
            elif kind == "PARSED":
                hdrsize = to_number(_field(a, fail("Invalid Header Size")), fail("Invalid Header Size"))
                lines = to_number(_field(a, fail("Invalid Content Lines")), fail("Invalid Content Lines"))
                version = to_number(_field(a, fail("Invalid Cache entry")), fail("Invalid Cache entry"))
                cache = _literal(_field(a, fail("Invalid Cache entry")), fail("Invalid Cache entry"))
                if a.peek() is not None and a.peek().kind == SP:   # lenient: "}{" or "} {"
                    a.take()
                body = _literal(a.take(), fail("Invalid Message"))
                staged = new = Staged(body, hdrsize, lines, version, cache)
            else:
                body = _literal(_field(a, fail("Invalid Message")), fail("Invalid Message"))
                staged = new = Staged(body, *parse_body(body))
            if new is not None and not is_null_guid(guid):
                local[guid] = new
            items.append((NewMessage(uid, guid, tuple(flags), internaldate, sentdate, updated,
                                     staged.body, staged.hdrsize, staged.lines,
                                     staged.cache_version, staged.cache),
                          new if new is not None and not is_null_guid(guid) else None))
            last_uid = uid
        return items

    def cmd_uidlast(self, a: Args):
        self._need_mailbox()
        uidlast = a.number()
        appenddate = a.number()
        a.end()
        yield self._trace(f"UIDLAST {uidlast} {appenddate}")
        try:
            with self.store.write():
                box = self._reload_selected()
                self.store.set_uidlast(box, uidlast, appenddate)
        except StoreError as exc:
            raise No(f"Uidlast failed: {exc}") from None
        yield OUT, b"OK Uidlast succeeded\r\n"

    def cmd_setseen(self, a: Args):
        self._need_mailbox()
        user = a.astring()
        lastread = a.number()
        last_recent = a.number()
        lastchange = a.number()
        seenuids = a.astring()
        a.end()
        yield self._trace(f"SETSEEN {user} ...")
        try:
            with self.store.write():
                box = self._reload_selected()
                self.store.set_seen(user, box.id, lastread, last_recent, lastchange, seenuids)
        except StoreError as exc:
            raise No(f"Setseen Failed on {self.selected.name}: {exc}") from None
        yield OUT, b"OK Setseen Suceeded\r\n"

    def cmd_reserve(self, a: Args):
        name = a.astring()
        yield self._trace(f"RESERVE {name} ...")
        guids = []
        while not a.at_end:
            n = len(guids) + 1
            token = a.take()
            if token.kind != SP:
                raise Bad(f"Syntax error in Reserve at item {n}: Invalid end of sequence")
            token = a.take()
            if token is None:
                raise Bad(f"Syntax error in Reserve at item {n}: "
                          "Unexpected end of sync_in at end of item")
            if token.kind != ATOM or not _GUID24.match(token.value) or is_null_guid(
                    decode(token.value)):
                raise Bad(f"Syntax error in Reserve at item {n}: Not a MessageID")
            guids.append(decode(token.value).lower())
        if not guids:
            raise a.missing()
        self._need_user("No user selected")
        box = self.store.mailbox(name) if valid_mailbox_name(name) else None
        if box is None:
            raise No(f"Failed to open {_shown(name)}: Mailbox does not exist")
        i = 0
        echoed = []
        with self.store.read():
            for guid, body, hdrsize, lines in self.store.bodies_by_guid(box.id):
                if i >= len(guids):
                    break
                if guid != guids[i]:
                    continue
                i += 1
                if guid not in self.staged:
                    self._stage(guid, Staged(body, hdrsize, lines))
                    echoed.append(b"* %s\r\n" % guid.encode())
        if echoed:
            yield OUT, b"".join(echoed)
        yield OUT, b"OK Reserve complete\r\n"

    def cmd_contents(self, a: Args):
        a.end()
        yield self._trace("CONTENTS")
        self._need_user("No user selected")
        self._need_mailbox()
        with self.store.read():
            box = self._reload_selected()
            _, last_recent, _, seenuids = self.store.seen(self.user, box.id)
            for uid, guid, flags, internaldate, _, _, _, body in self.store.messages_full(box.id):
                flag_list = flags.split()
                if in_sequence_set(uid, seenuids):
                    flag_list.append("\\seen")
                if uid > last_recent:
                    flag_list.append("\\recent")
                yield OUT, (b"* %d %d %s (%s) " % (uid, internaldate,
                                                   quoted_or_literal(_return_path(body)),
                                                   " ".join(flag_list).encode())
                            + literal(body) + b"\r\n")
        yield OUT, b"OK Contents succeeded\r\n"

    # ------------------------------------------------------------------ mailbox management

    def cmd_create(self, a: Args):
        name = a.astring()
        uniqueid = a.astring()
        acl = a.astring()
        mbtype = a.number()
        uidvalidity = a.number()
        a.end()
        user = self._need_user()
        if uniqueid == "NIL":
            uniqueid = mailbox_uniqueid(name, uidvalidity)
        if acl == "NIL":
            acl = f"{user}\tlrswipcda\tanonymous\t0\t"
        yield self._trace(f"CREATE {name} {uniqueid}")
        yield TRACE, f'          "{printable(acl)}" {mbtype} {uidvalidity}'
        if not valid_mailbox_name(name) or not _UNIQUEID.match(uniqueid):
            what = "Invalid mailbox name" if not valid_mailbox_name(name) else "Invalid uniqueid"
            raise No(f"Create {_shown(name)} failed: {what}")
        try:
            with self.store.write():
                self.store.create_mailbox(name, uniqueid, acl, mbtype, uidvalidity)
        except StoreError as exc:
            raise No(f"Create {_shown(name)} failed: {exc}") from None
        yield OUT, b"OK Create completed\r\n"

    def cmd_delete(self, a: Args):
        name = a.astring()
        a.end()
        yield self._trace(f"DELETE {name}")
        self._need_user()
        try:
            with self.store.write():
                self.store.delete_mailbox(name)
        except StoreError as exc:
            raise No(f"Failed to delete {_shown(name)}: {exc}") from None
        if self.selected is not None and self.selected.name == name:
            self.selected = None
        yield OUT, b"OK Delete completed\r\n"

    def cmd_rename(self, a: Args):
        old = a.astring()
        new = a.astring()
        a.end()
        yield self._trace(f"RENAME {old} {new}")
        self._need_user()
        if not valid_mailbox_name(new):
            raise No(f"Rename failed {_shown(old)} -> {_shown(new)}: Invalid mailbox name")
        try:
            with self.store.write():
                self.store.rename_mailbox(old, new)
        except StoreError as exc:
            raise No(f"Rename failed {_shown(old)} -> {_shown(new)}: {exc}") from None
        if self.selected is not None and self.selected.name == old:
            self.selected.name = new
        yield OUT, b"OK Rename completed\r\n"

    def cmd_setacl(self, a: Args):
        name = a.astring()
        acl = a.astring()
        a.end()
        if acl and not acl.endswith("\t") or acl.count("\t") % 2:
            raise No(f"SetAcl Failed for {_shown(name)}: Invalid ACL")
        try:
            with self.store.write():
                self.store.set_acl(name, acl)
        except StoreError as exc:
            raise No(f"SetAcl Failed for {_shown(name)}: {exc}") from None
        yield self._trace(f'SETACL {name} "{acl}"')
        yield OUT, b"OK SetAcl Suceeded\r\n"

    def cmd_list(self, a: Args):
        a.end()
        yield self._trace("LIST")
        user = self._need_user()
        with self.store.read():
            for name in self.store.user_mailbox_names(user):
                box = self.store.mailbox(name)
                yield OUT, b"* %s %s %s\r\n" % (box.uniqueid.encode(), astring(box.name),
                                                astring(box.acl))
        yield OUT, b"OK List completed\r\n"

    # ------------------------------------------------------------------ subscriptions, quota

    def cmd_lsub(self, a: Args):
        a.end()
        yield self._trace("LSUB")
        user = self._need_user()
        for name in self.store.subscriptions(user):
            yield OUT, b"* %s\r\n" % astring(name)
        yield OUT, b"OK Lsub completed\r\n"

    def cmd_addsub(self, a: Args):
        name = a.astring()
        a.end()
        yield self._trace(f"ADDSUB {name}")
        user = self._need_user()
        if not valid_mailbox_name(name):
            raise No(f"Addsub {_shown(name)} failed: Invalid mailbox name")
        with self.store.write():
            self.store.subscribe(user, name)
        yield OUT, b"OK Addsub completed\r\n"

    def cmd_delsub(self, a: Args):
        name = a.astring()
        a.end()
        yield self._trace(f"DELSUB {name}")
        user = self._need_user()
        with self.store.write():
            self.store.unsubscribe(user, name)
        yield OUT, b"OK Delsub completed\r\n"

    def cmd_quota(self, a: Args):
        root = a.astring()
        a.end()
        yield self._trace(f"QUOTA {root}")
        yield OUT, b"OK %d\r\n" % (self.store.quota(root) or 0)

    def cmd_setquota(self, a: Args):
        root = a.astring()
        limit = a.number()
        while not a.at_end:        # the Cambridge expunge limits: accepted, ignored
            a.number()
        yield self._trace(f"SETQUOTA {root} ...")
        if not valid_mailbox_name(root):
            raise No(f"SetQuota failed {_shown(root)}: Invalid mailbox name")
        with self.store.write():
            self.store.set_quota(root, limit)
        yield OUT, b"OK SetQuota succeeded\r\n"

    # ------------------------------------------------------------------ sieve

    def cmd_list_sieve(self, a: Args):
        a.end()
        yield self._trace("LIST_SIEVE")
        user = self._need_user()
        scripts = self.store.sieve_scripts(user)
        for name, mtime, active in scripts:
            yield OUT, b"* %s %d%s\r\n" % (quoted_or_literal(name), mtime, b" *" if active else b"")
        if not scripts:
            yield OUT, b"OK No sieve scripts currently active\r\n"
        else:
            yield OUT, b"OK List_sieve completed\r\n"

    def cmd_get_sieve(self, a: Args):
        name = a.astring()
        a.end()
        yield self._trace(f"GET_SIEVE {name}")
        user = self._need_user()
        script = self.store.sieve_script(user, name)
        if script is None:
            raise No("No such sieve file")
        yield OUT, b"OK " + literal(script) + b"\r\n"

    def cmd_upload_sieve(self, a: Args):
        name = a.astring()
        mtime = a.number()
        script = a.astring_raw()
        if not a.at_end:
            raise Bad("Unexpected arguments")
        yield self._trace(f"UPLOAD_SIEVE {name} {mtime}")
        user = self._need_user()
        if not _sieve_name_ok(name):
            raise No("Upload_sieve failed: Invalid script name")
        with self.store.write():
            self.store.put_sieve(user, name, mtime, script)
        yield OUT, b"OK Upload_sieve completed\r\n"

    def cmd_activate_sieve(self, a: Args):
        name = a.astring()
        a.end()
        yield self._trace(f"ACTIVATE_SIEVE {name}")
        user = self._need_user()
        try:
            with self.store.write():
                self.store.activate_sieve(user, name)
        except StoreError as exc:
            raise No(f"Activate_sieve failed: {exc}") from None
        yield OUT, b"OK Activate_sieve completed\r\n"

    def cmd_deactivate_sieve(self, a: Args):
        a.end()
        yield self._trace("DEACTIVATE_SIEVE")
        user = self._need_user()
        with self.store.write():
            self.store.activate_sieve(user, None)
        yield OUT, b"OK Deactivate_sieve completed\r\n"

    def cmd_delete_sieve(self, a: Args):
        name = a.astring()
        a.end()
        yield self._trace(f"DELETE_SIEVE {name}")
        user = self._need_user()
        try:
            with self.store.write():
                self.store.delete_sieve(user, name)
        except StoreError as exc:
            raise No(f"Delete_sieve failed: {exc}") from None
        yield OUT, b"OK Delete_sieve completed\r\n"

    # ------------------------------------------------------------------ session

    def cmd_exit(self, a: Args):
        a.end()
        self.end()
        yield OUT, b"OK Finished\r\n"

    def cmd_restart(self, a: Args):
        a.end()
        self._release_user()
        self.staged.clear()
        self.staged_bytes = 0
        yield OUT, b"OK Restarting\r\n"

    def cmd_authenticate(self, a: Args):
        a.astring()
        # The reference server is reached over stdin/stdout, authenticated by the transport.
        yield OUT, b"BAD Already authenticated\r\n"

    def cmd_starttls(self, a: Args):
        a.end()
        yield OUT, b"NO Error initializing TLS\r\n"


# ---------------------------------------------------------------------- item fields

def _word(token: Token | None) -> str:
    return decode(token.value) if token is not None and token.kind == ATOM else ""


def _field(a: Args, error) -> Token:
    """A space, then the next token: a missing one is the given field's error."""
    token = a.take()
    if token is None or token.kind != SP:
        raise error()
    token = a.take()
    if token is None or token.kind == SP:
        raise error()
    return token


def _guid(token: Token, kind: str, error) -> str:
    if token.kind == ATOM and token.value.upper() == b"NIL" and kind != "COPY":
        return "0" * 24
    if token.kind != ATOM or not _GUID24.match(token.value):
        raise error()
    return decode(token.value).lower()


def _literal(token: Token | None, error) -> bytes:
    if token is None or token.kind != LITERAL:
        raise error()
    return token.value


def _sieve_name_ok(name: str) -> bool:
    return bool(name) and "/" not in name and name not in (".", "..", "default") and \
        not any(ord(c) < 0x20 for c in name)


_RETURN_PATH = re.compile(rb"^Return-Path:[ \t]*<?([^>\r\n]*)>?", re.I | re.M)


def _return_path(body: bytes) -> bytes:
    header = body.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    match = _RETURN_PATH.search(header)
    return match.group(1).strip() if match and match.group(1).strip() else b"MAILER_DAEMON"
