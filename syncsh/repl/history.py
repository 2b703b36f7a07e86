"""The console's history: a file of its own (0600) that holds each entry as typed, once (a
list or a quote continued over several lines is one entry), and never a secret, a literal,
or an answer to a confirmation."""

from __future__ import annotations

import os


def history_path(env) -> str:
    """The history file, in the environment's data directory."""
    return os.path.join(env.data_directory(), "history")


def is_secret(entry: str) -> bool:
    """Entries that never enter history: authentication and anything carrying a literal;
    a paste of several lines if any of its lines, or any command it would run (a
    snippet's C: lines), is such a line."""
    from syncsh.private import is_secret as secret
    from syncsh.repl.paste import snippet_commands
    if "{" in entry and "}" in entry:
        return True
    lines = entry.splitlines() or [entry]
    if len(lines) > 1:
        lines += snippet_commands(entry)[0]
    return any(secret(line) for line in lines)


def make_history(path: str):
    """A prompt_toolkit history whose entries the loop decides: what the prompt hands it
    (each piece typed) is ignored, and keep(entry) stores the whole entry."""
    from prompt_toolkit.history import FileHistory

    from syncsh import private

    class EntryHistory(FileHistory):
        def append_string(self, string: str) -> None:
            """A piece the prompt accepted: it may be the start of an entry (a line left
            open goes on at the next prompt), so the loop keeps entries, not this."""

        def keep(self, entry: str) -> None:
            """One entry as typed (its pieces joined as they were run)."""
            if not entry.strip() or is_secret(entry):
                return
            strings = self.get_strings()
            if strings and strings[-1] == entry:
                return                  # the same again (the prompt never repeated one)
            super().append_string(entry)

    private.ensure_dir(os.path.dirname(path))
    private.touch(path)                     # 0600 before the first line goes in
    return EntryHistory(path)
