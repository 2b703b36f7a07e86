"""The live view: each connection's traffic as the REPL's `\\trace on` shows it (connection,
time, direction, the command and its replies), NO/BAD and errors highlighted, and one
summary line when a connection ends.  Or the same events as JSON lines."""

from __future__ import annotations

import json
import threading
import time

from syncsh.model import Mailbox, Message, MessageBatch
from syncsh.protocol.events import Continuation, Untagged
from syncsh.tap import events as ev
from syncsh.tap.relay import NORMAL_END
from syncsh.tap.summary import WIDTH, clip, printable, size_text

_RED, _BOLD_RED, _GREEN, _YELLOW, _DIM, _RESET = ("\x1b[31m", "\x1b[1;31m", "\x1b[32m",
                                                   "\x1b[33m", "\x1b[2m", "\x1b[0m")
_SIDE = {ev.CLIENT: "the client", ev.SERVER: "the server", ev.TAP: "the tap"}


def ending(event: ev.Closed) -> str:
    """How a connection ended, in words: which side closed, and why."""
    side = _SIDE.get(event.side, event.side)
    if event.why == NORMAL_END:
        return f"ended after EXIT, a normal end ({side} closed first)"
    return f"closed by {side}" + (f": {printable(event.why)}" if event.why else "")


def raw_line(raw: bytes) -> str:
    return printable(raw.rstrip(b"\r\n").decode("utf-8", "replace"))


class LiveView:
    """Human lines, written as the events come (one lock: connections run in threads)."""

    def __init__(self, out, *, color: bool = False, width: int = WIDTH) -> None:
        self.out = out
        self.color = color
        self.width = width
        self.lock = threading.Lock()
        self.rows: dict[int, int] = {}          # records seen in the reply in progress

    def paint(self, style: str, text: str) -> str:
        return f"{style}{text}{_RESET}" if self.color else text

    def write(self, conn: int, when: float, direction: str, text: str) -> None:
        self.out.write(f"[{conn}] {when:8.4f} {direction}: {clip(text, self.width)}\n")

    def __call__(self, event) -> None:
        with self.lock:
            self.show(event)
            try:
                self.out.flush()
            except (OSError, ValueError):
                pass

    def show(self, event) -> None:
        conn = event.conn
        if isinstance(event, ev.Opened):
            stamp = time.strftime("%H:%M:%S", time.gmtime(event.wallclock))
            self.out.write(f"[{conn}] {stamp} UTC connection from {printable(event.peer)} "
                           f"to {printable(event.target)}\n")
        elif isinstance(event, ev.Greeted):
            for line in event.lines:
                self.write(conn, event.time, "S", printable(line))
            for line in event.removed:
                self.write(conn, event.time, "S", self.paint(_YELLOW, f"{printable(line)}"
                                                             "   (removed: --no-starttls)"))
        elif isinstance(event, ev.Sent):
            self.rows[conn] = 0
            text = event.summary + ("   (exchange not shown)" if event.command is None else "")
            self.write(conn, event.time, "C", text)
        elif isinstance(event, ev.Received):
            self.reply(event)
        elif isinstance(event, ev.Finished):
            self.finished(event)
        elif isinstance(event, ev.Note):
            text = printable(event.text)
            self.out.write(f"[{conn}] {event.time:8.4f} "
                           f"{self.paint(_YELLOW, '! ' + text) if event.problem else '# ' + text}\n")
        elif isinstance(event, ev.Closed):
            self.closed(event)

    def reply(self, event: ev.Received) -> None:
        item, conn = event.event, event.conn
        if isinstance(item, (Message, MessageBatch)):
            self.rows[conn] = self.rows.get(conn, 0) + (len(item) if isinstance(
                item, MessageBatch) else 1)
            return
        if isinstance(item, Mailbox) and event.raw and len(event.raw) > self.width:
            fields = f"{item.name}  last_uid {item.uidlast}  highestmodseq {item.highestmodseq}"
            if item.sync_crc is not None:
                fields += f"  sync_crc {item.sync_crc}"
            self.write(conn, event.time, "S", printable(f"* MAILBOX {fields}  "
                                                        f"({size_text(len(event.raw))})"))
            return
        if isinstance(item, Untagged) and item.problem:
            self.write(conn, event.time, "S", self.paint(_YELLOW, f"{raw_line(event.raw)}"
                                                                  f"   ! {item.problem}"))
            return
        if isinstance(item, Continuation):
            self.write(conn, event.time, "S", printable(f"+ {item.text}"))
            return
        if event.raw:
            self.write(conn, event.time, "S", raw_line(event.raw.split(b"\r\n", 1)[0]))

    def finished(self, event: ev.Finished) -> None:
        done, conn = event.done, event.conn
        rows = self.rows.pop(conn, 0)
        if rows:
            self.write(conn, event.time, "S", f"… {rows} record{'s' * (rows != 1)}")
        text = printable(f"{done.status} {done.text}")
        style = {"OK": _GREEN, "NO": _RED}.get(done.status, _BOLD_RED)
        self.write(conn, event.time, "S", self.paint(style, text) +
                   f"   ({event.seconds * 1000:.1f} ms)")

    def closed(self, event: ev.Closed) -> None:
        stats = event.stats
        parts = [ending(event),
                 f"{stats.commands} command{'s' * (stats.commands != 1)}",
                 f"{size_text(stats.client_bytes)} from the client, "
                 f"{size_text(stats.server_bytes)} from the server",
                 f"{stats.seconds:.3f} s"]
        line = " · ".join(parts)
        if event.waiting:
            line += f" · {event.waiting} was left without its reply"
        if stats.first_failure:
            line += " · first failure: " + stats.first_failure
        bad = bool(stats.first_failure or event.waiting or
                   (event.side != ev.CLIENT and event.why != NORMAL_END))
        self.out.write(f"[{event.conn}] " + (self.paint(_RED, line) if bad else line) + "\n")


def event_json(event) -> dict | None:
    """An event as a JSON object (the codec's events as the renderers write them)."""
    from syncsh.render.json_lines import event_to_json
    base = {"conn": event.conn, "t": round(event.time, 6)}
    if isinstance(event, ev.Opened):
        return {**base, "type": "open", "peer": event.peer, "target": event.target,
                "at": event.wallclock}
    if isinstance(event, ev.Greeted):
        return {**base, "type": "greeting", "lines": list(event.lines),
                "removed": list(event.removed), "dialect": event.banner.dialect}
    if isinstance(event, ev.Sent):
        data = {**base, "type": "command", "verb": event.verb, "summary": event.summary,
                "bytes": event.size}
        if event.command is not None:
            data["value"] = command_value(event.command)
        return data
    if isinstance(event, ev.Received):
        return {**base, "type": "reply", "command": event.command,
                "event": event_to_json(event.event)}
    if isinstance(event, ev.Finished):
        return {**base, "type": "done", "command": event.command, "status": event.done.status,
                "text": event.done.text, "seconds": round(event.seconds, 6)}
    if isinstance(event, ev.Note):
        return {**base, "type": "note", "text": event.text, "problem": event.problem}
    if isinstance(event, ev.Closed):
        s = event.stats
        return {**base, "type": "closed", "side": event.side, "why": event.why,
                "waiting": event.waiting, "commands": s.commands,
                "client_bytes": s.client_bytes, "server_bytes": s.server_bytes,
                "seconds": round(s.seconds, 6), "first_failure": s.first_failure}
    return None


def command_value(framed) -> object:
    """A command's words and its dlist value, message bodies as their GUID and size."""
    from syncsh.protocol import dlist
    from syncsh.render.json_lines import _plain
    words = framed.head.split(None, 2)
    line = [w.decode("utf-8", "replace") for w in words[:2]]
    if len(words) < 3 and not framed.literals:
        return line
    reader = dlist.Reader()
    reader.feed(b"* X " + framed.raw.split(None, 2)[2] if len(words) > 2 else b"")
    reader.feed(b"")
    value = None
    try:
        for item in reader.events():
            if isinstance(item, dlist.Line):
                value = item.value
    except Exception:                     # a command that is no dlist: its words only
        value = None
    return line + ([_plain(value)] if value is not None else [])


class JsonView:
    def __init__(self, out) -> None:
        self.out = out
        self.lock = threading.Lock()

    def __call__(self, event) -> None:
        data = event_json(event)
        if data is None:
            return
        text = json.dumps(data, ensure_ascii=False)
        with self.lock:
            self.out.write(text + "\n")
            try:
                self.out.flush()
            except (OSError, ValueError):
                pass
