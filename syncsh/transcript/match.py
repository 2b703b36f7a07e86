"""Matching what came back against what a transcript expects: pure functions (prysk's shape).

Rules: leading whitespace and whitespace runs are not significant (the document rendered
TABs as spaces); ``...`` ending a line matches any rest of it; ``...`` alone matches zero
or more lines; ``{{name}}`` matches a run of non-space characters and must then agree
wherever the name recurs.  Everything else is exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WS = re.compile(r"\s+")
_CAPTURE = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")
ELLIPSIS = "..."


def normalise(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _pattern(expected: str, captures: dict[str, str]) -> tuple[re.Pattern, list[str]]:
    text = normalise(expected)
    prefix = text.endswith(ELLIPSIS) and text != ELLIPSIS
    if prefix:
        text = text[:-len(ELLIPSIS)].rstrip()
    parts = []
    names = []
    pos = 0
    for match in _CAPTURE.finditer(text):
        parts.append(re.escape(text[pos:match.start()]))
        name = match.group(1)
        if name in captures:
            parts.append(re.escape(captures[name]))
        elif name in names:
            parts.append(f"(?P={name})")
        else:
            parts.append(f"(?P<{name}>\\S+)")
            names.append(name)
        pos = match.end()
    parts.append(re.escape(text[pos:]))
    body = "".join(parts)
    return re.compile(body + (r"(?:\s.*|.*)?\Z" if prefix else r"\Z"), re.S), names


def line_match(expected: str, actual: str, captures: dict[str, str]) -> dict[str, str] | None:
    """The captures after matching one line, or None when it does not match."""
    pattern, names = _pattern(expected, captures)
    match = pattern.match(normalise(actual))
    if match is None:
        return None
    if not names:
        return captures
    updated = dict(captures)
    for name in names:
        updated[name] = match.group(name)
    return updated


def match_lines(expected: list[str], actual: list[str],
                captures: dict[str, str] | None = None) -> dict[str, str] | None:
    """Captures if every actual line is accounted for by the expected lines, else None."""
    captures = dict(captures or {})
    # memo on (i, j) is sound only without captures in play; transcripts are small anyway
    def go(i: int, j: int, caps: dict[str, str]):
        while True:
            if i == len(expected):
                return caps if j == len(actual) else None
            if normalise(expected[i]) == ELLIPSIS:
                for k in range(len(actual), j - 1, -1) if i == len(expected) - 1 else \
                        range(j, len(actual) + 1):
                    result = go(i + 1, k, caps)
                    if result is not None:
                        return result
                return None
            if j >= len(actual):
                return None
            caps = line_match(expected[i], actual[j], caps)
            if caps is None:
                return None
            i += 1
            j += 1
    return go(0, 0, captures)


@dataclass
class DiffLine:
    sign: str            # " ", "-", "+"
    text: str
    number: int | None   # the transcript line of an expected line


def diff(expected: list[tuple[int, str]], actual: list[str],
         captures: dict[str, str]) -> list[DiffLine]:
    """Expected (with their transcript line numbers) against actual, where an actual line
    that a matcher accepts counts as equal, so only real differences show."""
    import difflib
    exp_keys = [normalise(text) for _, text in expected]
    act_keys = []
    for line in actual:
        key = normalise(line)
        for _, text in expected:
            if normalise(text) != ELLIPSIS and line_match(text, line, captures) is not None:
                key = normalise(text)
                break
        act_keys.append(key)
    out: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=exp_keys, b=act_keys, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out += [DiffLine(" ", expected[i][1], expected[i][0]) for i in range(i1, i2)]
            continue
        ellipsis_only = all(k == ELLIPSIS for k in exp_keys[i1:i2])
        if ellipsis_only and tag in ("delete", "replace"):
            out += [DiffLine(" ", expected[i][1], expected[i][0]) for i in range(i1, i2)]
            out += [DiffLine(" ", actual[j], None) for j in range(j1, j2)]
            continue
        out += [DiffLine("-", expected[i][1], expected[i][0]) for i in range(i1, i2)]
        out += [DiffLine("+", actual[j], None) for j in range(j1, j2)]
    return out


def format_diff(path: str, lines: list[DiffLine], context: int = 3) -> list[str]:
    """A unified diff whose '-' side is numbered by transcript lines."""
    changed = [i for i, d in enumerate(lines) if d.sign != " "]
    if not changed:
        return []
    out = [f"--- {path} (expected)", "+++ actual"]
    groups: list[list[int]] = []
    for i in changed:
        if groups and i - groups[-1][-1] <= 2 * context:
            groups[-1].append(i)
        else:
            groups.append([i])
    for group in groups:
        start = max(0, group[0] - context)
        end = min(len(lines), group[-1] + context + 1)
        chunk = lines[start:end]
        numbers = [d.number for d in chunk if d.number is not None]
        first = numbers[0] if numbers else 0
        minus = sum(1 for d in chunk if d.sign != "+")
        plus = sum(1 for d in chunk if d.sign != "-")
        out.append(f"@@ -{first},{minus} +{start + 1},{plus} @@")
        for d in chunk:
            where = f"{d.number}" if d.number is not None and d.sign == "-" else ""
            out.append(f"{d.sign}{d.text}" + (f"    [{path}:{where}]" if where else ""))
    return out
