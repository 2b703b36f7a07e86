"""Replies as people (and scripts) want to read them: tables (table.py), raw wire lines
(raw.py), JSON lines (json_lines.py).

Rendering knows nothing of transports or sessions: it is handed events one at a time and
writes at once, so a million-message reply starts printing on its first row and is never
held whole as text.  Message rows use fixed column widths and are written directly (rich's
Table needs every row before it prints); rich draws the small things: mailbox headers,
ACLs, summaries.  Each format's module is imported when that format is first asked for.
"""

from __future__ import annotations

from syncsh.render.base import Renderer, color_wanted

FORMATS = ("table", "raw", "json")
__all__ = ["FORMATS", "Renderer", "color_wanted", "make_renderer"]


def make_renderer(fmt: str, out=None, **kwargs) -> Renderer:
    if fmt == "table":
        from syncsh.render.table import TableRenderer as kind
    elif fmt == "raw":
        from syncsh.render.raw import RawRenderer as kind
    elif fmt == "json":
        from syncsh.render.json_lines import JsonRenderer as kind
    else:
        raise KeyError(fmt)
    return kind(out, **kwargs)
