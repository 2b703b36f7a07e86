"""Transcript defects found without running anything: a client line labelled S:, a reply
that cannot follow its command, unbalanced quotes or parentheses."""

from __future__ import annotations

from syncsh.protocol import commands
from syncsh.transcript.match import ELLIPSIS, matcher_of, normalise
from syncsh.transcript.parse import Gathered, Line, Step, Transcript, outside_literals

_REPLY_STARTS = ("*", "+", "OK", "NO", "BAD")


def _first_word(text: str) -> str:
    return normalise(text).split(" ", 1)[0]


def looks_like_client_line(text: str) -> bool:
    word = _first_word(text)
    return not word.startswith(_REPLY_STARTS) and \
        commands.lookup(commands.LEGACY, word) is not None


def logical(lines: list[Line]) -> list[Line]:
    """Reply lines as the framer reads them: the S: lines after a {n+} are the literal's
    bytes and belong to the line that announced it.  Elided lines end a literal too."""
    out: list[Line] = []
    pending: tuple[Line, Gathered] | None = None

    def whole(first: Line, gathered: Gathered) -> Line:
        return Line(first.number, "S", gathered.text, first.raw)
    for line in lines:
        if pending is not None:
            if normalise(line.text) == ELLIPSIS:
                out.append(whole(*pending))
                pending = None
            elif pending[1].add(line.text):
                out.append(whole(*pending))
                pending = None
            continue
        gathered = Gathered(line.text)
        if not gathered.complete and not normalise(line.text).endswith(ELLIPSIS) \
                and matcher_of(line.text)[1] is None:
            pending = (line, gathered)
        else:
            out.append(line)
    if pending is not None:
        out.append(whole(*pending))
    return out


def _head(line: Line) -> Line:
    """The part of a logical line before its first literal."""
    return Line(line.number, line.kind, line.text.split("\r\n", 1)[0], line.raw)


def lint(transcript: Transcript) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = _hosts(transcript) + _setups(transcript)
    connected: set[str] = set()
    for step in transcript.steps:
        problems += _order(step, connected)
        first = step.command.text.split("\r\n", 1)[0]
        if not step.is_shell:
            problem = commands.unbalanced(outside_literals(step.command.text))
            if problem:
                problems.append((step.command.number, f"unbalanced client line: {problem}"))
        if step.is_shell:
            argv = first[1:].split()
            if argv and argv[0] == "ssh":
                problems += _server_lines(step, after_banner=True)
            continue
        problems += _server_lines(step, after_banner=False)
        problems += _reply_shape(step, first)
    return sorted(problems)


def _order(step: Step, connected: set[str]) -> list[tuple[int, str]]:
    """What replay would stop at: a command before its session connects, a shell line it
    cannot run, a literal its lines do not fill."""
    session = f" of session {step.session}" if step.session else ""
    if step.is_shell:
        argv = step.command.text[1:].split()
        if argv and argv[0] == "ssh":
            connected.add(step.session)
        elif not argv or not ("replicate" in argv[:2] and argv[0] in ("replicate", "syncsh")):
            return [(step.command.number, "a shell line replay cannot run (only `$ ssh …` "
                                          "and `$ replicate …`)")]
        return []
    problems = []
    if step.session not in connected:
        problems.append((step.command.number, f"a protocol line before any `$ ssh`{session}"))
    if step.unfinished:
        problems.append((step.command.number, "its literal announces more bytes than its C: "
                                              "lines hold (replay would wait for the rest)"))
    return problems


def _setups(transcript: Transcript) -> list[tuple[int, str]]:
    import os
    problems = []
    for number, args in transcript.setup:
        if args[0] in ("replay", "snapshot"):
            path = os.path.join(os.path.dirname(transcript.path), args[1])
            if not os.path.exists(path):
                problems.append((number, f"%setup {args[0]} {args[1]}: no such file"))
    return problems


def _hosts(transcript: Transcript) -> list[tuple[int, str]]:
    """%host lines that would run a command or reach a host: replay leaves them alone
    unless the user confirms them."""
    from syncsh.transcript.preflight import host_reach
    problems = []
    for host, text in transcript.hosts.items():
        reach = host_reach(text)
        if reach is not None:
            # a replication port or socket (what a recording names) is said as a note; a
            # line that would run something (exec:, cyrus:, ssh://) is a defect
            note = NOTE if text.startswith(("csync://", "unix:")) else ""
            problems.append((transcript.host_lines.get(host, 0),
                             f"{note}%host {host} = {text} {reach} (replay uses it only with "
                             f"--trust-hosts or --host {host}=TARGET)"))
    return problems


NOTE = "note: "


def is_defect(text: str) -> bool:
    return not text.startswith(NOTE)


def _server_lines(step: Step, *, after_banner: bool) -> list[tuple[int, str]]:
    problems = []
    for i, line in enumerate(map(_head, logical(step.expected))):
        text = normalise(line.text)
        body, matcher = matcher_of(line.text)
        if matcher == "re":
            problem = _regex_problem(body)
            if problem:
                problems.append((line.number, f"a (re) line that does not compile: {problem}"))
        if matcher or after_banner and i == 0:   # a pattern is not a line to read as one
            continue
        if text == ELLIPSIS or text.startswith("..."):
            continue
        if looks_like_client_line(text):
            problems.append((line.number, f"a client line labelled S: ({_first_word(text)} "
                                          "is a command; write it as C:)"))
        elif not text.startswith(_REPLY_STARTS):
            problems.append((line.number, "not a server line (replies start with *, +, OK, "
                                          "NO or BAD)"))
        elif not text.endswith(ELLIPSIS):
            problem = commands.unbalanced(text)
            if problem:
                problems.append((line.number, f"unbalanced server line: {problem}"))
    return problems


def _reply_shape(step: Step, command_line: str) -> list[tuple[int, str]]:
    spec = commands.lookup(commands.LEGACY, commands.command_word(command_line))
    problems = []
    final_seen = None
    for line in map(_head, logical(step.expected)):
        text = normalise(line.text)
        word = _first_word(text)
        if text == ELLIPSIS or matcher_of(line.text)[1]:
            continue
        if final_seen is not None:
            problems.append((line.number, f"a reply line after the final {final_seen}"))
            continue
        if word in ("OK", "NO", "BAD"):
            final_seen = word
        elif spec is not None and word.startswith("*"):
            allowed = {"mailboxes": ("*", "**", "***", "****"), "messages": ("*", "**")}.get(
                spec.replies, ("*",) if spec.replies else ())
            if word not in allowed:
                problems.append((line.number, f"{spec.name} does not answer with {word} lines"))
    last = step.expected[-1].text if step.expected else ""
    if step.expected and final_seen is None and not normalise(last).endswith(ELLIPSIS) \
            and matcher_of(last)[1] is None:
        problems.append((step.expected[-1].number, "the reply has no final OK, NO or BAD"))
    return problems


def _regex_problem(pattern: str) -> str:
    import re
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    return ""
