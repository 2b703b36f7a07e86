"""Pasted text: a snippet of a transcript (the document's notation) wherever it was copied
from, reduced to the client lines that will run and the shell lines that will not."""

from __future__ import annotations

import re

_QUOTED = re.compile(r"^[ \t]*>[ \t]?")
_FENCE = re.compile(r"^[ \t]*(```|~~~)")
SNIPPET_START = re.compile(r"^[ \t>]*[CS]:")
_QUOTED_ANY = re.compile(r"^[ \t>]*")


def unwrapped(text: str) -> list[str]:
    """The lines of pasted text without what surrounds a snippet where it was copied from:
    an email's "> " quoting (at any depth), Markdown fences, and the indentation all its
    lines share (a document's literal block, a Markdown code block)."""
    import textwrap
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while any(line.strip() for line in lines) and \
            all(_QUOTED.match(line) for line in lines if line.strip()):
        lines = [_QUOTED.sub("", line, count=1) for line in lines]
    lines = [line for line in lines if not _FENCE.match(line)]
    return textwrap.dedent("\n".join(lines)).split("\n")


def snippet_commands(text: str) -> tuple[list[str], list[str]]:
    """The client lines of pasted text, and the shell lines that will not be run.

    A snippet from the document (C:/S: prefixes, # annotations, \\ continuations of S:
    lines) runs its C: lines in order; plain lines are commands each."""
    from syncsh.transcript.parse import classify
    raws = unwrapped(text)
    if not any(classify(0, raw).kind in ("C", "S") for raw in raws) and \
            any(SNIPPET_START.match(raw) for raw in raws):
        # a reply that quotes only part of a message: its quoted lines are the snippet
        raws = [_QUOTED_ANY.sub("", raw) if SNIPPET_START.match(raw) else raw for raw in raws]
    lines = [classify(i, raw) for i, raw in enumerate(raws)]
    prefixed = any(line.kind in ("C", "S") for line in lines)
    commands, skipped = [], []
    pending = ""                          # a C: line wrapped with a trailing backslash
    for line in lines:
        if prefixed and line.kind != "C":
            continue
        command = line.text if line.kind in ("C", "S", "text") else (
            line.raw.strip() if line.kind not in ("blank", "#") else "")
        if pending:
            command = f"{pending} {command.lstrip()}".rstrip()
            pending = ""
        if command.endswith("\\") and not command.endswith("\\\\"):
            pending = command[:-1].rstrip()
            continue
        if not command:
            continue
        (skipped if command.startswith("$") else commands).append(command)
    if pending:
        commands.append(pending)
    return commands, skipped
