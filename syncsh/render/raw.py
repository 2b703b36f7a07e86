"""Raw wire lines: byte for byte to a pipe or a file, escaped on a terminal."""

from __future__ import annotations


from syncsh.printable import printable
from syncsh.protocol.events import Banner, Untagged
from syncsh.render.base import Renderer, _isatty


class RawRenderer(Renderer):
    """The server's lines exactly as they came (CRLF shown as a newline): byte for byte to
    a pipe or a file; on a terminal, control characters escaped (they would drive it)."""

    def __init__(self, out=None, **kwargs) -> None:
        super().__init__(out, **kwargs)
        self.on_terminal = _isatty(self.out)
        # to a file, the very bytes: written to the binary stream under the text one
        self._bytes = None if self.on_terminal else getattr(self.out, "buffer", None)

    def command(self, line: str) -> None:
        if self._bytes is not None:
            self.out.flush()         # text printed between commands goes before their bytes

    def _line(self, text: bytes, end: bytes = b"\n") -> None:
        if self._bytes is not None:
            self._bytes.write(text + end)
        else:
            text = text.decode("utf-8", "surrogateescape")
            self.out.write((printable(text) if self.on_terminal else text) + end.decode())

    def banner(self, banner: Banner, target: str = "") -> None:
        self.command("")
        for capability in banner.capabilities:
            self._line(b"* " + capability.encode("utf-8", "surrogateescape"))
        self._line(banner.text.encode("utf-8", "surrogateescape"))

    def event(self, event) -> None:
        if isinstance(event, Untagged) and event.problem and not event.text:
            # a line that was not kept (over --max-line): no bytes to show, so say so
            self.flush()
            print(f"syncsh: {printable(event.problem)}", file=self.err)
        elif getattr(event, "agree", None) is False and hasattr(event, "computed"):
            # the wire lines are the output; a CRC that disagrees is said once, on stderr
            self.flush()
            print(f"syncsh: {printable(event.mailbox)}: {event.name} differs: server "
                  f"{event.server}, computed from its records {event.computed}",
                  file=self.err)

    def wire(self, direction: str, raw: bytes) -> None:
        # the pieces come as read: a long line can come in several (a record list run by
        # run), so a line break is written only where the server ended a line; a piece
        # may also hold many lines (a listing's run, Session.wire_in_regions): each CRLF
        # is a newline, written in one go
        if direction != "S":
            return
        if self._bytes is not None:
            self.out.flush()
            self._bytes.write(raw.replace(b"\r\n", b"\n"))
            return
        *lines, last = raw.split(b"\r\n")
        for line in lines:
            self._line(line)
        if last:
            self._line(last, end=b"")

    def flush(self) -> None:
        super().flush()
        if self._bytes is not None:
            try:
                self._bytes.flush()
            except (OSError, ValueError):
                pass
