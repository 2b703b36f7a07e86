"""Keeping what the tap saw: each connection as a transcript in the project's notation
(lint-clean, replayable by hand), or as JSON lines.

Connections are recorded separately: FILE with ``{n}`` in its name gets one file per
connection; otherwise each connection is a named session of FILE (written to a part file
while it lasts and appended whole when it ends, so concurrent sessions never interleave).
Message bodies are kept up to ``max_literal`` bytes; a larger one, or one whose line ends
the notation cannot hold, is left out and named in a comment (GUID and size); a reply
line holding control bytes, a bare CR or LF is written as an ``(esc)`` line.
Authentication, COMPRESS and STARTTLS appear as comments: a replay logs in by itself.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time

from syncsh.tap import events as ev
from syncsh.tap.frames import Framed
from syncsh.tap.show import ending, event_json
from syncsh.tap.summary import printable, size_text
from syncsh.transcript.match import escape, needs_escape

MAX_LITERAL = 4 << 20
_SWITCHES = ("COMPRESS", "STARTTLS")
_SESSION = re.compile(r"# session \d+: ")
_FILE_HEAD = re.compile(r"%\{([^ {}]+) ([^ {}]+) (\d+)\}$")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _needs_esc(piece: bytes) -> bool:
    text = _text(piece)
    return needs_escape(text) or (text.endswith("\\") and not text.endswith("\\\\"))


def _holdable(data: bytes, *, server: bool) -> bool:
    """Whether bytes survive being written as C:/S: lines, CRLF apart."""
    for piece in data.split(b"\r\n"):
        if b"\n" in piece or b"\r" in piece:
            return False
        if server and piece.endswith(b"\\") and not piece.endswith(b"\\\\"):
            return False                  # an S: line so ended continues on the next one
    return True


def command_lines(framed: Framed, max_literal: int) -> tuple[list[str], list[str]]:
    """(C: line texts, comments) for a command: literals' bytes on lines of their own,
    message bodies left out when too large or not holdable.  ([], comments) when the
    command cannot be written at all."""
    raw, lines, notes, line, at = framed.raw, [], [], b"", 0
    for literal in framed.literals:
        before = raw[at:literal.header[0]]
        header = raw[literal.header[0]:literal.header[1]].rstrip(b"\r\n")
        data = raw[literal.data[0]:literal.data[1]]
        at = literal.data[1]
        why = None
        if literal.size > max_literal:
            why = f"larger than --max-literal {max_literal}"
        elif not _holdable(data, server=False):
            why = "its line ends cannot be written in a transcript"
        if why is None:
            pieces = (line + before + header + b"\r\n" + data).split(b"\r\n")
            lines += pieces[:-1]
            line = pieces[-1]
        elif literal.guid is None:
            return [], [f"a command with a {literal.size}-byte literal is not recorded ({why})"]
        else:
            line += before.rstrip(b" ")
            notes.append(f"message {printable(literal.guid)} ({literal.size} bytes, partition "
                         f"{printable(literal.partition or '?')}) left out: {why}")
    lines.append(line + raw[at:].rstrip(b"\r\n"))
    if any(b"\r" in piece or b"\n" in piece for piece in lines):
        return [], [f"a {len(raw)}-byte command with a bare CR or LF is not recorded"]
    return [_text(piece) for piece in lines], notes


def reply_lines(raw: bytes, max_literal: int) -> tuple[list[str], list[str]]:
    """(S: line texts, comments) for a reply's bytes; from the first line that cannot be
    kept, `...` stands for the rest (the final line is written by the caller)."""
    text = raw[:-2] if raw.endswith(b"\r\n") else raw
    if not text:
        return [], []
    out, notes = [], []
    pieces = text.split(b"\r\n")
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        if _needs_esc(piece):
            # control bytes, a bare CR or LF, a trailing backslash (a continuation), or a
            # matcher-like ending: written as an (esc) line, which matches it byte for byte
            out.append(f"{escape(_text(piece))} (esc)")
            i += 1
            continue
        head = _FILE_HEAD.search(_text(piece))
        if head and int(head.group(3)) > max_literal:
            out += [_text(piece), "..."]
            notes.append(f"message {printable(head.group(2))} ({head.group(3)} bytes) left "
                         f"out: larger than --max-literal {max_literal}")
            return out, notes
        out.append(_text(piece))
        i += 1
    return out, notes


class TranscriptSession:
    """One connection in the transcript notation; ``write`` takes whole lines."""

    def __init__(self, write, *, host: str, host_target: str | None, max_literal: int,
                 number: int | None = None) -> None:
        self.write = write
        self.number = number             # the session's number in its file
        self.host = host
        self.host_target = host_target
        self.max_literal = max_literal
        self.steps: list[list] = []        # per command waiting: [verb, lines, notes, raw]
        self.label = ""
        self._target = ""
        self.greeted = False

    def __call__(self, event) -> None:
        if isinstance(event, ev.Opened):
            stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(event.wallclock))
            self.label = f"session {self.number or event.conn}"
            self._target = event.target
            self.write([f"# {self.label}: {printable(event.peer)} to "
                        f"{printable(event.target)}, opened {stamp}"])
        elif isinstance(event, ev.Greeted) and self.greeted:
            # the greeting again, after TLS: the session goes on (a replay logs in itself)
            self.write([f"# the server greeted again: {printable(line)}" for line in event.lines])
        elif isinstance(event, ev.Greeted):
            self.greeted = True
            lines = []
            if self.host_target:
                lines.append(f"%host {self.host} = {self.host_target}")
            else:                 # a csync:// --to names no administrator to log in as
                lines.append(f"# replay: syncsh replay --host {self.host}=csync://ADMIN@HOST"
                             f"[:PORT] (the tap's target: {printable(self._target)})")
            lines.append(f"C: $ ssh {self.host} sync_server")
            seen = [line for line in event.lines if line not in event.removed]
            lines += [f"S: {line}" for line in seen]
            lines += [f"# the tap removed `{printable(line)}` from the greeting the client "
                      "saw (--no-starttls)" for line in event.removed]
            if any(line.upper().startswith("* SASL") for line in seen):
                lines += ["# a replay logs in by itself here: what it reads then is not checked",
                          "S: ..."]
            self.write(lines)
        elif isinstance(event, ev.Sent):
            self.sent(event)
        elif isinstance(event, ev.Received):
            if self.steps:
                self.steps[0][3].append(event.raw)
        elif isinstance(event, ev.Finished):
            if self.steps:
                step = self.steps.pop(0)
                self.write(self.step_lines(step, event.done, event.raw))
        elif isinstance(event, ev.Note):
            self.write([f"# {printable(event.text)}"])
        elif isinstance(event, ev.Closed):
            self.closed(event)

    def sent(self, event: ev.Sent) -> None:
        if event.command is None or event.verb in _SWITCHES:
            self.steps.append([event.summary, None, [], []])
            return
        lines, notes = command_lines(event.command, self.max_literal)
        self.steps.append([event.verb, lines, notes, []])

    def step_lines(self, step: list, done, final: bytes) -> list[str]:
        what, lines, notes, raws = step
        if lines is None:                 # AUTHENTICATE, COMPRESS, STARTTLS: a comment
            outcome = "no reply" if done is None else f"{done.status} {printable(done.text)}"
            extra = " (the exchange is not recorded)" if what.startswith("AUTHENTICATE") else \
                " (a replay makes its own connection)"
            return [f"# {what}: {outcome}{extra}"]
        if not lines:
            return [f"# {note}" for note in notes]
        out = [f"# {note}" for note in notes] + [f"C: {line}" for line in lines]
        replies, reply_notes = reply_lines(b"".join(raws), self.max_literal)
        out += [f"S: {line}" for line in replies]
        if done is None:
            if replies and replies[-1] != "...":
                out.append("S: ...")
        else:
            out += [f"S: {line}" for line in reply_lines(final, 1 << 62)[0]]
        return out + [f"# {note}" for note in reply_notes]

    def closed(self, event: ev.Closed) -> None:
        lines = []
        for step in self.steps:
            lines += self.step_lines(step, None, b"")
        self.steps = []
        stats = event.stats
        lines.append(f"# {self.label} {ending(event)}"
                     + (f", while {event.waiting} waited for its reply" if event.waiting else ""))
        lines.append(f"# {stats.commands} commands, {size_text(stats.client_bytes)} from the "
                     f"client, {size_text(stats.server_bytes)} from the server, "
                     f"{stats.seconds:.3f} s" + (f"; first failure: {stats.first_failure}"
                                                 if stats.first_failure else ""))
        lines.append("")
        self.write(lines)


class Recorder:
    """The --record FILE of one tap run: hands each connection its own writer."""

    def __init__(self, path: str, *, fmt: str = "transcript", host: str = "replica",
                 host_target: str | None = None, max_literal: int = MAX_LITERAL,
                 append: bool = False) -> None:
        from syncsh import __version__
        self.path, self.fmt, self.host, self.host_target = path, fmt, host, host_target
        self.max_literal = max_literal
        self.per_connection = "{n}" in path
        self.lock = threading.Lock()
        self.version = __version__
        self.paths: list[str] = []
        self.earlier = 0                  # sessions FILE held already (--append)
        if not self.per_connection:
            if append and os.path.exists(path):
                with open(path, encoding="utf-8", errors="replace") as handle:
                    self.earlier = sum(bool(_SESSION.match(line)) for line in handle)
            mode = "a" if append else "w"
            with open(path, mode, encoding="utf-8", newline="\n") as handle:
                if fmt == "transcript" and handle.tell() == 0:
                    handle.write(self.heading())
            self.paths.append(path)

    def heading(self) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        return (f"# recorded by syncsh tap {self.version} on {stamp}\n"
                "# (authentication exchanges are never recorded)\n\n")

    def session(self, conn: int):
        """The event sink of connection ``conn``."""
        if self.per_connection:
            path = self.path.replace("{n}", str(conn))
            with self.lock:
                self.paths.append(path)
            handle = open(path, "w", encoding="utf-8", errors="surrogateescape", newline="\n")
            if self.fmt == "transcript":
                handle.write(self.heading())
            return _Sink(self, handle, None, conn)
        part = f"{self.path}.{os.getpid()}.{conn}.part"
        handle = open(part, "w", encoding="utf-8", errors="surrogateescape", newline="\n")
        return _Sink(self, handle, part, self.earlier + conn)

    def finish_part(self, part: str) -> None:
        with self.lock, open(part, "rb") as source, open(self.path, "ab") as target:
            while True:
                chunk = source.read(1 << 20)
                if not chunk:
                    break
                target.write(chunk)
        os.unlink(part)


class _Sink:
    def __init__(self, recorder: Recorder, handle, part: str | None, number: int) -> None:
        self.recorder, self.handle, self.part = recorder, handle, part
        if recorder.fmt == "json":
            self.consume = self.json
        else:
            self.consume = TranscriptSession(self.lines, host=recorder.host,
                                             host_target=recorder.host_target,
                                             max_literal=recorder.max_literal,
                                             number=number)

    def lines(self, lines: list[str]) -> None:
        if lines:
            self.handle.write("\n".join(lines) + "\n")

    def json(self, event) -> None:
        data = event_json(event)
        if data is not None:
            self.handle.write(json.dumps(data, ensure_ascii=False) + "\n")

    def __call__(self, event) -> None:
        if self.handle is None:
            return
        self.consume(event)
        if isinstance(event, (ev.Finished, ev.Greeted)):
            self.handle.flush()
        if isinstance(event, ev.Closed):
            self.handle.close()
            self.handle = None
            if self.part is not None:
                self.recorder.finish_part(self.part)
