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
            replace[step.step.source[0]] = new
            drop.update(step.step.source[1:])
            # continuation lines of the last S: line belong to it too
            last = step.step.source[-1]
            while last < len(lines) and lines[last - 1].rstrip().endswith("\\") \
                    and lines[last].startswith("S:"):
                last += 1
                drop.add(last)
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
