"""Recording a session in the document's notation, so that it replays green."""

from __future__ import annotations

import time

from syncsh import __version__
from syncsh.protocol import commands


def host_name(target) -> str:
    """The name a recorded `$ ssh` line uses for a target."""
    if target.is_demo:
        return target.text.split(":", 1)[1]
    return "replica"


class Recorder:
    def __init__(self, path: str, target, banner) -> None:
        self.path = path
        from syncsh import private
        # what was typed and what the server holds: the recording is its owner's only
        self.handle = private.open_write(path, encoding="utf-8", errors="surrogateescape",
                                         newline="\n")
        host = host_name(target)
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        self._write(f"# recorded by syncsh {__version__} on {stamp}",
                    f"%host {host} = {target.text}",
                    "",
                    f"C: $ ssh {host} sync_server")
        for capability in banner.capabilities:
            self._write(f"S: * {capability}")
        self._write(f"S: {banner.text}")

    def _write(self, *lines: str) -> None:
        for line in lines:
            self.handle.write(line + "\n")
        self.handle.flush()

    def command(self, line: str, reply: list[str]) -> None:
        from syncsh.private import is_secret
        spec = commands.lookup(commands.LEGACY, commands.command_word(line))
        if spec is not None and spec.sensitive or is_secret(line):
            self._write("# (an authentication exchange was not recorded)")
            return
        self._write(*[f"C: {part}" for part in line.split("\r\n")])
        self._write(*[f"S: {text}" for text in reply])

    def note(self, text: str) -> None:
        self._write(f"# {text}")

    def close(self) -> None:
        self.handle.close()
