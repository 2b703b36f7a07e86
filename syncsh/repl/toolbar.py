"""The bottom toolbar: what the session holds, fitted to the window by priority.

Segments are kept whole, most important first (target and dialect, the lock and its age,
the selected mailbox, the round trip, the syntax of what is being typed): one that does not
fit is left out, never cut in the middle; the full banner is in \\info."""

from __future__ import annotations

import time
from dataclasses import dataclass

from syncsh.printable import printable
from syncsh.protocol import commands as C

DIALECTS = {"seed": "seed", "2005": "2005", "2.3": "2.3", "csync": "csync"}


@dataclass(frozen=True)
class Segment:
    priority: int          # 0 first
    style: str
    text: str


def segments(target_text: str, session, table, text_now: str) -> list[Segment]:
    """Everything the toolbar could show, in display order."""
    out = [Segment(0, "class:toolbar.key", f" {printable(target_text)} ")]
    if session is not None:
        out.append(Segment(1, "", f"{DIALECTS.get(session.dialect or '', '?')} "))
        if session.closed:
            out.append(Segment(0, "class:toolbar.warn", " disconnected: \\reconnect "))
        if session.user:
            held = time.monotonic() - (session.user_since or time.monotonic())
            out.append(Segment(1, "class:toolbar.warn",
                               f" lock {printable(session.user)} {held:.0f}s "))
        if session.selected:
            out.append(Segment(2, "", f" [{printable(session.selected)}]"))
        if session.last_rtt is not None:
            out.append(Segment(3, "", f"  rtt {session.last_rtt * 1000:.1f}ms"))
        if session.banner is not None:
            out.append(Segment(5, "", f"  {printable(session.banner.text)}"))
    spec = C.lookup(table, text_now) if text_now else None
    if spec is not None:
        out.append(Segment(4, "", f"   {spec.syntax}"))
        if spec.write:
            out.append(Segment(4, "class:toolbar.warn", " write "))
    return out


def fitted(parts: list[Segment], width: int) -> list[tuple[str, str]]:
    """The segments that fit in `width` columns, chosen by priority, shown in order."""
    room = width - 1                 # a full last column makes some terminals wrap
    keep: set[int] = set()
    for index in sorted(range(len(parts)), key=lambda i: parts[i].priority):
        if len(parts[index].text) <= room:
            keep.add(index)
            room -= len(parts[index].text)
    return [(part.style, part.text) for i, part in enumerate(parts) if i in keep]


def window_width() -> int:
    try:
        from prompt_toolkit.application import get_app
        return get_app().output.get_size().columns
    except Exception:               # no running application (tests, scripts)
        import shutil
        return shutil.get_terminal_size((80, 24)).columns
