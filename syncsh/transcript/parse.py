"""Reading transcripts: the document's own notation, and the few directives replay needs.

    # annotation                      kept, never checked
    C: command                        what the client sent (C: $ … is a shell line)
    S: reply line                     what appeared on the terminal
    C[B]: / S[B]:                     the same for a second session named B
    S: start of a long line \\         a trailing backslash continues on the next S: line
    %host NAME = TARGET               where `$ ssh … NAME …` goes
    %master NAME                      whose store `$ replicate` reads (default cyrus-1)
    %setup demo                       a fresh demo pair (the default)
    %setup replay FILE                first replay FILE on the same pair
    %setup move-message NAME UID MAILBOX   on NAME's store, move a message into a new folder
    %setup snapshot DIR               the demo pair as saved in DIR (a recording's)
    %exact [off]                      whitespace in S: lines is significant from here on

Any other line (prose in a document) is kept as an annotation.  Documents in
reStructuredText are read by taking their ``::`` literal blocks.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

from syncsh.errors import SyncshError
from syncsh.protocol.wire import Framer as _WireFramer


class TranscriptError(SyncshError):
    """A transcript that cannot be read; carries the file and line."""


@dataclass
class Line:
    number: int          # 1-based, in the file it came from
    kind: str            # "C", "S", "#", "%", "text", "blank"
    text: str            # after the "C: " / "S: " prefix
    raw: str             # the whole line as written
    exact: bool = False  # whitespace significant (after %exact)
    session: str = ""    # C[B]: / S[B]: lines belong to session B; unlabelled to the first


@dataclass
class Step:
    command: Line
    expected: list[Line] = field(default_factory=list)     # continuations joined
    source: list[int] = field(default_factory=list)        # file lines of its S: lines
    unfinished: bool = False     # its literal announced more bytes than its C: lines hold

    @property
    def session(self) -> str:
        return self.command.session

    @property
    def check_at(self) -> int | None:
        """The file line at which its reply is checked: its first S: line (a reply that
        waits on another session's action is written after that action)."""
        return self.source[0] if self.source else None

    @property
    def is_shell(self) -> bool:
        return self.command.text.startswith("$")

    @property
    def shell(self) -> list[str]:
        import shlex
        try:
            return shlex.split(self.command.text[1:])
        except ValueError as exc:
            raise TranscriptError(f"line {self.command.number}: {exc}") from None


@dataclass
class Transcript:
    path: str
    lines: list[Line]
    steps: list[Step]
    hosts: dict[str, str] = field(default_factory=dict)
    host_lines: dict[str, int] = field(default_factory=dict)     # where each %host was said
    master: str = "cyrus-1"
    setup: list[tuple[int, list[str]]] = field(default_factory=list)
    lock_timeout: float | None = None    # %setup lock-timeout: the demo servers' lock wait

    @property
    def sessions(self) -> set[str]:
        return {step.session for step in self.steps}


# The prefix stands in the first column: the document's legend ("  C: Command issued by
# client"), indented further, is prose.
_PREFIX = re.compile(r"^([CS])(?:\[([A-Za-z0-9_.-]{1,32})\])?:(?: ?)(.*)$")


def classify(number: int, raw: str) -> Line:
    stripped = raw.strip()
    match = _PREFIX.match(raw)
    if match:
        return Line(number, match.group(1), match.group(3).rstrip("\r"), raw,
                    session=match.group(2) or "")
    if not stripped:
        return Line(number, "blank", "", raw)
    if stripped.startswith("#"):
        return Line(number, "#", stripped, raw)
    if stripped.startswith("%"):
        return Line(number, "%", stripped[1:].strip(), raw)
    return Line(number, "text", stripped, raw)


def literal_blocks(text: str) -> list[tuple[int, str]]:
    """The ``::`` literal blocks of a reStructuredText document: (first line number, text)."""
    lines = text.split("\n")
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i].rstrip().endswith("::") and not lines[i].lstrip().startswith(".."):
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            start = j
            indent = None
            while j < len(lines) and (not lines[j].strip() or
                                      len(lines[j]) - len(lines[j].lstrip()) > 0):
                if lines[j].strip():
                    width = len(lines[j]) - len(lines[j].lstrip())
                    indent = width if indent is None else min(indent, width)
                j += 1
            if indent:
                body = textwrap.dedent("\n".join(lines[start:j]))
                blocks.append((start + 1, body))
            i = j
        else:
            i += 1
    return blocks


def is_document(text: str) -> bool:
    """A reStructuredText document rather than a plain transcript."""
    return bool(re.search(r"::\s*$", text, re.M)) and not re.search(r"^\s*%", text, re.M) and \
        not re.match(r"\s*(C|S|#|%)", text)


def read_lines(path: str, text: str) -> list[Line]:
    if is_document(text):
        lines = []
        for first, block in literal_blocks(text):
            for offset, raw in enumerate(block.split("\n")):
                lines.append(classify(first + offset, raw))
        return lines
    return [classify(i + 1, raw) for i, raw in enumerate(text.split("\n"))]


def parse(path: str, text: str | None = None) -> Transcript:
    if text is None:
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                text = handle.read()
        except OSError as exc:
            raise TranscriptError(f"{path}: {exc.strerror}") from None
    reading = _Reading(Transcript(path, read_lines(path, text), []))
    for line in reading.transcript.lines:
        reading.take(line)
    reading.finish()
    if not reading.transcript.steps:    # a wrong file must not pass as an empty transcript
        raise TranscriptError(f"{path}: no transcript here: no C: line"
                              + (" in its :: literal blocks" if is_document(text) else ""))
    return reading.transcript


class _Reading:
    """What parse() holds between lines: sessions interleave, so each one's last step
    (where its S: lines go) and a command still reading its literal's C: lines are kept
    per session; a backslash continues an S: line across lines."""

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript
        self.path = transcript.path
        self.latest: dict[str, Step] = {}
        self.gathering: dict[str, Gathered] = {}
        self.pending: Line | None = None      # an S: line continued with a backslash
        self.exact = False

    def take(self, line: Line) -> None:
        if line.kind == "%":
            if line.text.split()[:1] == ["exact"]:
                self.exact = _exact_directive(self.transcript, line)
            else:
                _directive(self.transcript, line)
        elif line.kind == "C":
            self._command(line)
        elif line.kind == "S":
            self._reply(line)

    def _command(self, line: Line) -> None:
        if self.pending is not None:
            raise TranscriptError(f"{self.path}:{self.pending.number}: a continued S: line "
                                  "has no continuation")
        step = self.latest.get(line.session)
        open_command = self.gathering.get(line.session)
        if step is not None and open_command is not None and not step.expected:
            # the command announced a literal: these C: lines are its bytes, CRLF apart
            if open_command.add(line.text):
                _close(step, self.gathering.pop(line.session))
            return
        if open_command is not None:
            _close(step, self.gathering.pop(line.session))
        self.latest[line.session] = step = Step(line)
        self.transcript.steps.append(step)
        if not step.is_shell:
            gathered = Gathered(line.text)
            if not gathered.complete:
                self.gathering[line.session] = gathered

    def _reply(self, line: Line) -> None:
        step = self.latest.get(line.session)
        if step is None:
            raise TranscriptError(f"{self.path}:{line.number}: an S: line before any C: line"
                                  + (f" of session {line.session}" if line.session else ""))
        if line.session in self.gathering:     # a reply ends its command's literal
            _close(step, self.gathering.pop(line.session))
        step.source.append(line.number)
        line.exact = self.exact
        line = self._continued(line)
        if line.text.endswith("\\") and not line.text.endswith("\\\\"):
            self.pending = Line(line.number, "S", line.text[:-1].rstrip(), line.raw,
                                self.exact, line.session)
            return
        step.expected.append(line)

    def _continued(self, line: Line) -> Line:
        """The S: line a pending one goes on with, joined to it (numbered as the first)."""
        pending, self.pending = self.pending, None
        if pending is None:
            return line
        if pending.session != line.session:
            raise TranscriptError(f"{self.path}:{pending.number}: a continued S: line is "
                                  "continued by another session's line")
        return Line(pending.number, "S", pending.text + " " + line.text.lstrip(), pending.raw,
                    self.exact, line.session)

    def finish(self) -> None:
        for session, gathered in self.gathering.items():
            _close(self.latest[session], gathered)
        if self.pending is not None:
            raise TranscriptError(f"{self.path}:{self.pending.number}: a continued S: line "
                                  "has no continuation")


class Gathered:
    """A command or reply written over several lines, its literals' bytes among them: the
    lines so far, and a framer fed each once (linear, however long the literal; reading
    the whole text again at every line was quadratic)."""

    def __init__(self, first: str) -> None:
        self.parts = [first]
        self.framer = _framer(first)
        self.complete = self._feed(first)

    def add(self, text: str) -> bool:
        self.parts.append(text)
        if isinstance(self.framer, _WireFramer) and "%{" in text:
            return self._refeed()                # a file literal after all: read again
        self.complete = self._feed(text)
        return self.complete

    @property
    def text(self) -> str:
        return "\r\n".join(self.parts)

    def _refeed(self) -> bool:
        self.framer = _framer("%{")
        self.complete = False
        for part in self.parts:
            self.complete = self._feed(part)
        return self.complete

    def _feed(self, text: str) -> bool:
        self.framer.feed(text.encode("utf-8", "surrogateescape") + b"\r\n")
        item = self.framer.next_item() if isinstance(self.framer, _WireFramer) else \
            self.framer.next_command()
        return item is not None and self.framer.pending == 0


def _framer(first: str):
    if "%{" in first:                # the modern dialect's file literals (APPLY MESSAGE)
        from syncsh.tap.frames import CommandFramer
        return CommandFramer()
    return _WireFramer()


def _close(step: Step, gathered: Gathered) -> None:
    step.command = Line(step.command.number, "C", gathered.text, step.command.raw,
                        session=step.command.session)
    step.unfinished = not gathered.complete


def _exact_directive(transcript: Transcript, line: Line) -> bool:
    words = line.text.split()
    if words[1:] not in ([], ["off"]):
        raise TranscriptError(f"{transcript.path}:{line.number}: %exact [off]")
    return words[1:] == []


def outside_literals(text: str) -> str:
    """A logical line's text without its literals' bytes (their headers kept)."""
    from syncsh.tap.frames import CommandFramer
    framer = CommandFramer()
    framer.feed(text.encode("utf-8", "surrogateescape") + b"\r\n")
    framed = framer.next_command()
    if framed is None:
        return text.split("\r\n", 1)[0]
    return b" ".join(framed.text_parts()).decode("utf-8", "surrogateescape")


def _directive(transcript: Transcript, line: Line) -> None:
    words = line.text.split()
    where = f"{transcript.path}:{line.number}"
    if not words:
        raise TranscriptError(f"{where}: empty directive")
    name, args = words[0], words[1:]
    if name == "host":
        text = " ".join(args)
        host, sep, target = text.partition("=")
        if not sep or not host.strip() or not target.strip():
            raise TranscriptError(f"{where}: %host NAME = TARGET")
        transcript.hosts[host.strip()] = target.strip()
        transcript.host_lines[host.strip()] = line.number
    elif name == "master":
        if len(args) != 1:
            raise TranscriptError(f"{where}: %master NAME")
        transcript.master = args[0]
    elif name == "setup":
        if not args or args[0] not in ("demo", "replay", "move-message", "snapshot",
                                       "lock-timeout"):
            raise TranscriptError(f"{where}: %setup demo | replay FILE | snapshot DIR | "
                                  "lock-timeout SECONDS | move-message NAME UID MAILBOX")
        if args[0] == "lock-timeout":
            try:
                transcript.lock_timeout = float(args[1]) if len(args) == 2 else -1.0
            except ValueError:
                transcript.lock_timeout = -1.0
            if not 0 <= transcript.lock_timeout <= 3600:
                raise TranscriptError(f"{where}: %setup lock-timeout SECONDS (0 to 3600)")
            return
        if args[0] in ("replay", "snapshot") and len(args) != 2 or \
                args[0] == "move-message" and (len(args) != 4 or not args[2].isascii()
                                                or not args[2].isdigit()):
            raise TranscriptError(f"{where}: %setup {args[0]}: wrong arguments")
        transcript.setup.append((line.number, args))
    else:
        shown = name if name.isprintable() else \
            repr(name.encode("utf-8", "surrogateescape"))[2:-1]     # bytes as \xNN
        raise TranscriptError(f"{where}: unknown directive %{shown[:40]}")
