"""--update: rewrite a transcript with what actually came back, annotations kept."""

from __future__ import annotations

from syncsh.transcript.replay import FileResult


def updated_text(result: FileResult, original: str) -> str:
    lines = original.split("\n")
    replace: dict[int, list[str]] = {}      # first S: line (1-based) -> new lines
    drop: set[int] = set()
    insert_after: dict[int, list[str]] = {}
    for step in result.steps:
        new = [f"S: {text}" for text in step.actual]
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
