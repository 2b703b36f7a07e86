"""Messages of the selected mailbox: flags, expunges, uploads and the staged bodies they use
(RESERVE), uidlast, seen state, CONTENTS."""

from __future__ import annotations

import re

from syncsh.model import is_null_guid
from syncsh.protocol.wire import (ATOM, LITERAL, SP, Token, decode, literal,
                                  quoted_or_literal)
from syncsh.server.args import Args, Bad, No, read_flag_list, to_number
from syncsh.server.common import (GUID24, OUT, Staged, in_sequence_set, parse_body, shown,
                                  valid_mailbox_name)
from syncsh.server.registry import command
from syncsh.server.store import NewMessage, StoreError


@command("SETFLAGS")
def setflags(s, a: Args):
    pairs: list = []
    try:
        _setflags(s, a, pairs)
    finally:
        # the trace comes when the command has finished, whatever its outcome (spec 11.4)
        yield s.trace(f"SETFLAGS [{len(pairs)} msgs]")
    yield OUT, b"OK Updated flags on %d messages okay\r\n" % len(pairs)


@command("EXPUNGE")
def expunge(s, a: Args):
    s.need_mailbox()
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
    yield s.trace(f"EXPUNGE [{len(uids)} msgs]")
    with s.committed(f"Expunge failed on {s.selected.name}"):
        box = s.reload_selected()
        s.store.expunge(box, uids)
    yield OUT, b"OK Expunge Complete\r\n"


@command("UPLOAD")
def upload(s, a: Args):
    s.need_mailbox("Mailbox not selected")
    items = []
    try:
        uidlast = a.number()
        appenddate = a.number()
        if a.at_end:
            raise a.missing()
        items = _read_upload_items(s, a)
    except Bad as exc:
        yield OUT, b"BAD %s\r\n" % str(exc).encode()
        yield s.trace(f"UPLOAD [{len(items)} msgs] [BAD]")
        return
    box = s.selected
    with s.committed(f"Failed to commit message upload to {box.name}"):
        box = s.reload_selected()
        s.store.add_messages(box, [m for m, _ in items])
        s.store.set_uidlast(box, uidlast, appenddate)
    for message, staged in items:
        if staged is not None:
            s.stage(message.guid, staged)
    yield OUT, b"OK Upload %d messages okay\r\n" % len(items)
    yield s.trace(f"UPLOAD [{len(items)} msgs]")


@command("UIDLAST")
def uidlast(s, a: Args):
    s.need_mailbox()
    uidlast = a.number()
    appenddate = a.number()
    a.end()
    yield s.trace(f"UIDLAST {uidlast} {appenddate}")
    with s.committed("Uidlast failed"):
        box = s.reload_selected()
        s.store.set_uidlast(box, uidlast, appenddate)
    yield OUT, b"OK Uidlast succeeded\r\n"


@command("SETSEEN")
def setseen(s, a: Args):
    s.need_mailbox()
    user = a.astring()
    lastread = a.number()
    last_recent = a.number()
    lastchange = a.number()
    seenuids = a.astring()
    a.end()
    yield s.trace(f"SETSEEN {user} ...")
    with s.committed(f"Setseen Failed on {s.selected.name}"):
        box = s.reload_selected()
        s.store.set_seen(user, box.id, lastread, last_recent, lastchange, seenuids)
    yield OUT, b"OK Setseen Suceeded\r\n"


@command("RESERVE")
def reserve(s, a: Args):
    name = a.astring()
    yield s.trace(f"RESERVE {name} ...")
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
        if token.kind != ATOM or not GUID24.match(token.value) or is_null_guid(
                decode(token.value)):
            raise Bad(f"Syntax error in Reserve at item {n}: Not a MessageID")
        guids.append(decode(token.value).lower())
    if not guids:
        raise a.missing()
    s.need_user("No user selected")
    box = s.store.mailbox(name) if valid_mailbox_name(name) else None
    if box is None:
        raise No(f"Failed to open {shown(name)}: Mailbox does not exist")
    i = 0
    echoed = []
    with s.store.read():
        for guid, body, hdrsize, lines in s.store.bodies_by_guid(box.id):
            if i >= len(guids):
                break
            if guid != guids[i]:
                continue
            i += 1
            if guid not in s.staged:
                s.stage(guid, Staged(body, hdrsize, lines))
                echoed.append(b"* %s\r\n" % guid.encode())
    if echoed:
        yield OUT, b"".join(echoed)
    yield OUT, b"OK Reserve complete\r\n"


@command("CONTENTS")
def contents(s, a: Args):
    a.end()
    yield s.trace("CONTENTS")
    s.need_user("No user selected")
    s.need_mailbox()
    with s.store.read():
        box = s.reload_selected()
        _, last_recent, _, seenuids = s.store.seen(s.user, box.id)
        for uid, guid, flags, internaldate, _, _, _, body in s.store.messages_full(box.id):
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


def _setflags(s, a: Args, pairs: list) -> None:
    box = s.need_mailbox()
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
        with s.store.write():
            box = s.reload_selected()
            s.store.set_flags(box, pairs, int(s.clock()))
    except StoreError as exc:
        s.selected = None
        raise No(f"Failed to commit flag update for {box.name}: {exc}") from None


def _read_upload_items(s, a: Args):
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
            staged = None if is_null_guid(guid) else (local.get(guid) or s.staged.get(guid))
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
    if token.kind != ATOM or not GUID24.match(token.value):
        raise error()
    return decode(token.value).lower()


def _literal(token: Token | None, error) -> bytes:
    if token is None or token.kind != LITERAL:
        raise error()
    return token.value




_RETURN_PATH = re.compile(rb"^Return-Path:[ \t]*<?([^>\r\n]*)>?", re.I | re.M)


def _return_path(body: bytes) -> bytes:
    header = body.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    match = _RETURN_PATH.search(header)
    return match.group(1).strip() if match and match.group(1).strip() else b"MAILER_DAEMON"
