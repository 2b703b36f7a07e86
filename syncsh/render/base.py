"""What every format shares: the Renderer's interface and whether colour is wanted."""

from __future__ import annotations

import os
import sys

from syncsh.protocol.events import Banner


def color_wanted(stream, setting: bool | None = None) -> bool:
    if setting is not None:
        return setting
    if "NO_COLOR" in os.environ:
        return False
    return hasattr(stream, "isatty") and stream.isatty()


class Renderer:
    """Base: subclasses print in one format.  ``wire`` receives raw lines ("S"/"C")."""

    def __init__(self, out=None, *, color: bool | None = None, width: int | None = None,
                 err=None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr        # what is said about a reply, not the reply
        self.color = color_wanted(self.out, color)
        self.width = width

    def command(self, line: str) -> None: ...
    def banner(self, banner: Banner, target: str = "") -> None: ...
    def wire(self, direction: str, raw: bytes) -> None: ...
    def event(self, event) -> None: ...
    def note(self, text: str) -> None: ...

    def flush(self) -> None:
        try:
            self.out.flush()
        except (OSError, ValueError):
            pass


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
