"""JSON lines: one object a line, one schema per type (docs/json.md)."""

from __future__ import annotations

import re

from syncsh.model import Mailbox, Message, MessageBatch, SieveScript, parse_acl
from syncsh.protocol.events import (Banner, Continuation, ContentsItem, Done, Reserved, SelectInfo,
                                    Subscription, Untagged)
from syncsh.render.base import Renderer

_HEX = re.compile("[0-9a-fA-F]*")


def event_to_json(event) -> dict:
    # by the event's class, its bases too (what isinstance would match)
    for cls in type(event).__mro__:
        to_json = _TO_JSON.get(cls)
        if to_json is not None:
            return to_json(event)
    return _modern_event_to_json(event) or {"type": type(event).__name__.lower(),
                                            "text": str(event)}


def _set_fields(data: dict, event, keys: tuple[str, ...]) -> dict:
    """The optional fields the event holds (a field it lacks is left out, not null)."""
    for key in keys:
        value = getattr(event, key)
        if value is not None:
            data[key] = value
    return data


def _message(event: Message) -> dict:
    data = _set_fields({"type": "message", "uid": event.uid, "guid": event.guid,
                        "flags": list(event.flags)}, event,
                       ("internaldate", "sentdate", "last_updated", "size", "modseq"))
    if event.annotations:
        data["annotations"] = [{"entry": e, "userid": u, "modseq": m, "value": _plain(v)}
                               for e, u, m, v in event.annotations]
    return data


def _mailbox(event: Mailbox) -> dict:
    data = _set_fields({"type": "mailbox", "name": event.name, "uniqueid": event.uniqueid,
                        "acl": event.acl, "acl_entries": [[e.identifier, e.rights]
                                                          for e in parse_acl(event.acl)]},
                       event, ("uidlast", "seen_lastchange", "last_recent_uid", "uidvalidity",
                               "highestmodseq", "sync_crc", "sync_crc_annot"))
    if event.fields:
        data["fields"] = _plain(event.fields)
    return data


def _banner(event: Banner) -> dict:
    return {"type": "banner", "text": event.text, "dialect": event.dialect,
            "version": event.version, "capabilities": list(event.capabilities)}


def _sieve(event: SieveScript) -> dict:
    data = {"type": "sieve", "name": event.name, "mtime": event.mtime, "active": event.active}
    if event.content is not None:
        data.update(_body_json("content", event.content))
    return data


def _contents(event: ContentsItem) -> dict:
    return {"type": "contents", "uid": event.uid, "internaldate": event.internaldate,
            "return_path": event.return_path, "flags": list(event.flags),
            "body": event.body.decode("utf-8", "replace")}


def _untagged(event: Untagged) -> dict:
    data = {"type": "untagged", "text": event.text}
    if event.problem:
        data["problem"] = event.problem
    return data


def _done(event: Done) -> dict:
    data = {"type": "done", "command": event.command, "status": event.status,
            "text": event.text}
    if event.code:
        data["code"] = event.code
    if isinstance(event.data, SelectInfo):
        data["select"] = _set_fields({"uniqueid": event.data.uniqueid,
                                      "uidlast": event.data.uidlast,
                                      "seen_lastchange": event.data.seen_lastchange},
                                     event.data, ("last_recent_uid",))
    elif isinstance(event.data, bytes):
        data["literal"] = event.data.decode("utf-8", "replace")
    elif event.data is not None:
        data["value"] = event.data
        from syncsh.labels import OK_VALUE_NAMES
        name = OK_VALUE_NAMES.get(event.command)
        if name and isinstance(event.data, int):     # also under the name the table shows
            data[name.replace(" ", "_")] = event.data
    return data


# One schema per type (docs/json.md): a table, so a new event type is one line and one
# small function, never another branch in a chain.
_TO_JSON = {
    Message: _message,
    Mailbox: _mailbox,
    Banner: _banner,
    Subscription: lambda event: {"type": "subscription", "name": event.name},
    SieveScript: _sieve,
    Reserved: lambda event: {"type": "reserved", "guid": event.guid},
    ContentsItem: _contents,
    Continuation: lambda event: {"type": "continuation", "text": event.text},
    Untagged: _untagged,
    Done: _done,
}


def _modern_event_to_json(event) -> dict | None:
    # the modern dialect's own events, known only once one arrives (start-up does not pay)
    from syncsh.protocol.crc import CrcVerdict
    from syncsh.protocol.csync_events import DlistLine, MailboxEnd, Missing, Quota, Seen
    if isinstance(event, CrcVerdict):
        return {"type": "crc", "mailbox": event.mailbox, "name": event.name,
                "server": event.server, "computed": event.computed, "agree": event.agree}
    if isinstance(event, Quota):
        return {"type": "quota", "root": event.root, "limit": event.limit,
                "resources": dict(event.resources), "modseq": event.modseq}
    if isinstance(event, Seen):
        return {"type": "seen", "uniqueid": event.uniqueid, "lastread": event.lastread,
                "lastuid": event.lastuid, "lastchange": event.lastchange,
                "seenuids": event.seenuids}
    if isinstance(event, Missing):
        return {"type": "missing", "guids": list(event.guids)}
    if isinstance(event, MailboxEnd):
        return {"type": "mailbox-end", "name": event.name}
    if isinstance(event, DlistLine):
        value = event.value
        if hasattr(value, "guid") and hasattr(value, "data"):      # GET FETCH's file
            return {"type": "message-file", **_plain(value)}
        # a line with no event of its own: its name and value (a type of its own per name
        # would let it take a documented type's name, MESSAGE's for one)
        return {"type": "dlist", "name": event.name, "value": _plain(value)}
    return None


def _plain(value):
    """A dlist value as JSON can hold it."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "guid") and hasattr(value, "data"):
        return {"partition": value.partition, "guid": value.guid, "size": len(value.data),
                **_body_json("body", value.data)}
    return value


def _body_json(key: str, data: bytes) -> dict:
    """Bytes as JSON text when they are UTF-8, else as base64 (under KEY_base64)."""
    try:
        return {key: data.decode("utf-8")}
    except UnicodeDecodeError:
        import base64
        return {f"{key}_base64": base64.b64encode(data).decode("ascii")}


# C1 controls, DEL and undecodable bytes, which json.dumps(ensure_ascii=False) leaves as they
# are: written as \u escapes instead (the same JSON string, and no terminal acts on them)
_JSON_UNSAFE = re.compile("[\x7f-\x9f\ud800-\udfff]")


def _json_safe(text: str) -> str:
    if _JSON_UNSAFE.search(text) is None:
        return text
    return _JSON_UNSAFE.sub(lambda m: "\\u%04x" % ord(m.group()), text)


class JsonRenderer(Renderer):
    """One JSON object per line: easy to stream, easy for jq."""
    # json is imported where it is used: tables and raw lines (and the prompt) do without it

    def command(self, line: str) -> None:
        import json
        self.out.write(json.dumps({"type": "command", "line": line}) + "\n")

    def banner(self, banner: Banner, target: str = "") -> None:
        import json
        data = event_to_json(banner)
        data["target"] = target
        self.out.write(json.dumps(data) + "\n")

    def event(self, event) -> None:
        import json
        if isinstance(event, MessageBatch):
            if event.modseqs is not None or not _HEX.fullmatch("".join(event.guids)):
                for message in event:
                    self.event(message)
                return
            # a run of a big listing, written directly: GUIDs are hex, UIDs numbers
            flag_json: dict = {}
            for flags in set(event.flags):
                flag_json[flags] = _json_safe(json.dumps(list(flags), ensure_ascii=False))
            self.out.write("".join([f'{{"type": "message", "uid": {uid}, "guid": "{guid}", '
                                    f'"flags": {flag_json[flags]}}}\n'
                                    for uid, guid, flags in zip(event.uids, event.guids,
                                                                event.flags)]))
            return
        if type(event) is Message and event.modseq is None and event.internaldate is None:
            # the row of a big listing: written directly (GUIDs are hex, UIDs numbers)
            flags = _json_safe(json.dumps(list(event.flags), ensure_ascii=False)) \
                if event.flags else "[]"
            self.out.write(f'{{"type": "message", "uid": {event.uid}, "guid": '
                           f'{json.dumps(event.guid)}, "flags": {flags}}}\n')
            return
        self.out.write(_json_safe(json.dumps(event_to_json(event), ensure_ascii=False)) + "\n")
