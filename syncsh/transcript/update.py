"""--update: rewrite the failing steps of a transcript with what came back, keeping what
was written: annotations, steps that passed, and within a failing step every written line
a matcher still accepts (``...``, ``{{name}}``, ``(re)`` …), wrapped as it was."""

from __future__ import annotations

from collections.abc import Callable

from syncsh.transcript import match
from syncsh.transcript.replay import FAILED, FileResult, StepResult


def spelled(actual: str, session: str = "") -> str:
    """An actual line as an S: line (of its session) that matches it back: control
    characters, a trailing backslash (a continuation) or a matcher-like ending are written
    as an (esc) line."""
    prefix = f"S[{session}]:" if session else "S:"
    if match.needs_escape(actual) or actual.endswith("\\"):
        return f"{prefix} {match.escape(actual)} (esc)"
    return f"{prefix} {actual}"


def _written(step: StepResult, file_lines: list[str]) -> dict[int, list[str]]:
    """Each expected line's file lines as written (a wrapped line keeps its wrapping)."""
    starts = [line.number for line in step.step.expected]
    out: dict[int, list[str]] = {}
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else None
        out[start] = [file_lines[n - 1] for n in step.step.source
                      if n >= start and (end is None or n < end)]
    return out


def new_lines(step: StepResult, file_lines: list[str]) -> list[str]:
    expected = [(line.number, match.Expected(line.text, line.exact))
                for line in step.step.expected]
    written = _written(step, file_lines)
    out: list[str] = []
    for line in match.diff(expected, step.actual, step.captures):
        if line.sign == "-":
            continue
        if line.number is not None:
            out += written[line.number]
        elif line.sign == "+":
            out.append(spelled(line.text, step.step.session))
        # an actual line an ellipsis accounted for stays covered by it
    return out


def updated_text(result: FileResult, original: str,
                 accept: Callable[[StepResult], bool] = lambda step: True) -> str:
    """The transcript with each failing step that `accept` takes rewritten."""
    lines = original.split("\n")
    replace: dict[int, list[str]] = {}      # first S: line (1-based) -> new lines
    drop: set[int] = set()
    insert_after: dict[int, list[str]] = {}
    for step in result.steps:
        if step.status != FAILED or not accept(step):
            continue
        new = new_lines(step, lines)
        if step.step.source:
            replace[step.step.source[0]] = new          # continuation lines are in source too
            drop.update(step.step.source[1:])
        else:
            number = step.step.command.number + step.step.command.text.count("\r\n")
            insert_after[number] = new
    out = []
    for number, line in enumerate(lines, 1):
        if number in replace:
            out += replace[number]
        elif number not in drop:
            out.append(line)
        if number in insert_after:
            out += insert_after[number]
    return "\n".join(out)
