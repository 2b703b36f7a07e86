"""Recording a session in the document's notation, so that it replays green."""

from __future__ import annotations

import time

from syncsh import __version__


def host_name(target) -> str:
    """The name a recorded `$ ssh` line uses for a target."""
    if target.is_demo:          # the store's own name (a named target's text is its name)
        import os
        return os.path.basename(target.store.rstrip(os.sep)) if target.store else \
            target.text.split(":", 1)[1]
    return "replica"


def snapshot_setup(path: str, target) -> list[str]:
    """A demo pair that is not as created goes with the recording (a copy of its stores
    beside it), so that replay starts from the state the session started from."""
    import os
    from syncsh import demo
    if not target.is_demo or target.store is None:
        return []
    pair = os.path.dirname(target.store)
    if demo.is_pristine(pair):
        return []
    name = os.path.basename(path) + ".snapshot"
    demo.snapshot(pair, os.path.join(os.path.dirname(os.path.abspath(path)), name))
    return [f"%setup snapshot {name}"]


def connect_lines(target, banner) -> list[str]:
    """How the connection is written: the modern dialect's negotiation (capabilities,
    STARTTLS, COMPRESS, authentication) is left out, replay checks its banner line; a
    target that needs a login says where the password comes from at replay time."""
    lines = []
    if target.needs_login:
        lines.append("# the password: from SYNCSH_PASSWORD (or asked for) when replayed; "
                     "never written here")
    if banner.dialect != "csync":
        lines += [f"S: * {capability}" for capability in banner.capabilities]
    return lines + [f"S: {banner.text}"]


class Recorder:
    def __init__(self, path: str, target, banner) -> None:
        import os
        self.path = path
        from syncsh import private
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):             # a typo must not make directories
            raise FileNotFoundError(2, f"no directory {folder}")
        setup = snapshot_setup(path, target)
        # what was typed and what the server holds: the recording is its owner's only
        self.handle = private.open_write(path, encoding="utf-8", errors="surrogateescape",
                                         newline="\n")
        host = host_name(target)
        # a demo store is named as a demo target (replay opens those without being told);
        # a config's name by its URL (replay has the transcript, not the user's config)
        where = f"demo:{host}" if target.is_demo else (target.url or target.text)
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        self._write(f"# recorded by syncsh {__version__} on {stamp}",
                    f"%host {host} = {where}", *setup,
                    "",
                    f"C: $ ssh {host} sync_server", *connect_lines(target, banner))

    def _write(self, *lines: str) -> None:
        for line in lines:
            self.handle.write(line + "\n")
        self.handle.flush()

    def command(self, line: str, reply: list[str]) -> None:
        from syncsh.private import is_secret
        if is_secret(line):           # the tables' sensitive column, every dialect's
            self._write("# (an authentication exchange was not recorded)")
            return
        self._write(*[f"C: {part}" for part in line.split("\r\n")])
        self._write(*[f"S: {text}" for text in reply])

    def note(self, text: str) -> None:
        self._write(f"# {text}")

    def close(self) -> None:
        self.handle.close()
