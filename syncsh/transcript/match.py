"""Matching what came back against what a transcript expects: pure functions (prysk's shape).

Rules: leading whitespace and whitespace runs are not significant (the document rendered
TABs as spaces) unless the line is exact (after ``%exact``); ``...`` ending a line matches
any rest of it; ``...`` alone matches zero or more lines; ``{{name}}`` matches a run of
non-space characters and must then agree wherever the name recurs.  As cram writes them, a
line ending in `` (re)`` is a Python regular expression matching the whole line, `` (glob)``
a pattern where ``*`` is any run and ``?`` one character (``\\*``, ``\\?`` themselves), and
`` (esc)`` a line written with Python-style escapes (``\\x1b``, ``\\t``, ``\\r``, ``\\0``)
compared byte for byte.  Everything else is exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WS = re.compile(r"\s+")
_CAPTURE = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")
ELLIPSIS = "..."
MATCHERS = ("re", "glob", "esc")


def normalise(text: str) -> str:
    return _WS.sub(" ", text).strip()


@dataclass(frozen=True)
class Expected:
    """One expected line as written, and whether whitespace is significant in it."""
    text: str
    exact: bool = False


def matcher_of(text: str) -> tuple[str, str | None]:
    """(body, matcher) of a written line: ``'OK .* (re)'`` is ``('OK .*', 're')``."""
    stripped = text.rstrip()
    for name in MATCHERS:
        if stripped.endswith(f" ({name})"):
            return stripped[:-len(name) - 3], name
    return text, None


_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|[tnr0\\])")
_NAMED = {"t": b"\t", "n": b"\n", "r": b"\r", "0": b"\0", "\\": b"\\"}


def unescape(body: str) -> str:
    """An (esc) line's text with its escapes read: bytes, decoded as replies are (UTF-8,
    a byte that is not UTF-8 kept as itself)."""
    out = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(body):
        out += body[pos:match.start()].encode("utf-8", "surrogateescape")
        code = match.group(1)
        out += bytes([int(code[1:], 16)]) if code[0] == "x" else _NAMED[code]
        pos = match.end()
    out += body[pos:].encode("utf-8", "surrogateescape")
    return out.decode("utf-8", "surrogateescape")


def escape(text: str) -> str:
    """The (esc) spelling of an actual line holding control characters."""
    out = []
    for char in text:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7f or 0x80 <= code < 0xa0:
            out.append({"\t": "\\t", "\r": "\\r", "\n": "\\n"}.get(char, f"\\x{code:02x}"))
        elif 0xdc80 <= code <= 0xdcff:                     # a byte that was not UTF-8
            out.append(f"\\x{code - 0xdc00:02x}")
        else:
            out.append(char)
    return "".join(out)


def needs_escape(text: str) -> bool:
    return escape(text) != text or matcher_of(text)[1] is not None


def _glob(body: str) -> str:
    parts = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body) and body[i + 1] in "*?\\":
            parts.append(re.escape(body[i + 1]))
            i += 2
            continue
        parts.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        i += 1
    return "".join(parts)


def _pattern(expected: str, captures: dict[str, str],
             exact: bool = False) -> tuple[re.Pattern, list[str]]:
    text = expected if exact else normalise(expected)
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


def line_match(expected: str | Expected, actual: str,
               captures: dict[str, str]) -> dict[str, str] | None:
    """The captures after matching one line, or None when it does not match."""
    if isinstance(expected, str):
        expected = Expected(expected)
    body, matcher = matcher_of(expected.text)
    if matcher == "esc":
        return captures if unescape(body) == actual else None
    if matcher in ("re", "glob"):
        try:
            pattern = re.compile(body if matcher == "re" else _glob(
                body if expected.exact else normalise(body)), re.S)
        except re.error:
            return None                         # lint names it; it matches nothing
        found = pattern.fullmatch(actual) or (
            None if expected.exact else pattern.fullmatch(normalise(actual)))
        return captures if found else None
    pattern, names = _pattern(expected.text, captures, expected.exact)
    match = pattern.match(actual if expected.exact else normalise(actual))
    if match is None:
        return None
    if not names:
        return captures
    updated = dict(captures)
    for name in names:
        updated[name] = match.group(name)
    return updated


def _is_ellipsis(expected: str | Expected) -> bool:
    return normalise(expected if isinstance(expected, str) else expected.text) == ELLIPSIS


def match_lines(expected: list[str | Expected], actual: list[str],
                captures: dict[str, str] | None = None) -> dict[str, str] | None:
    """Captures if every actual line is accounted for by the expected lines, else None."""
    captures = dict(captures or {})
    # memo on (i, j) is sound only without captures in play; transcripts are small anyway
    def go(i: int, j: int, caps: dict[str, str]):
        while True:
            if i == len(expected):
                return caps if j == len(actual) else None
            if _is_ellipsis(expected[i]):
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


def diff(expected: list[tuple[int, str | Expected]], actual: list[str],
         captures: dict[str, str]) -> list[DiffLine]:
    """Expected (with their transcript line numbers) against actual, where an actual line
    that a matcher accepts counts as equal, so only real differences show."""
    import difflib
    expected = [(number, Expected(e) if isinstance(e, str) else e) for number, e in expected]
    exp_keys = [normalise(e.text) for _, e in expected]
    act_keys = []
    for line in actual:
        key = "\0" + line            # an actual line no written one accounts for
        for _, e in expected:
            if not _is_ellipsis(e) and line_match(e, line, captures) is not None:
                key = normalise(e.text)
                break
        act_keys.append(key)
    out: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=exp_keys, b=act_keys, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out += [DiffLine(" ", expected[i][1].text, expected[i][0]) for i in range(i1, i2)]
            continue
        ellipsis_only = all(k == ELLIPSIS for k in exp_keys[i1:i2])
        if ellipsis_only and tag in ("delete", "replace"):
            out += [DiffLine(" ", expected[i][1].text, expected[i][0]) for i in range(i1, i2)]
            out += [DiffLine(" ", actual[j], None) for j in range(j1, j2)]
            continue
        out += [DiffLine("-", expected[i][1].text, expected[i][0]) for i in range(i1, i2)]
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
