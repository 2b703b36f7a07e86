"""The console's history: a file of its own (0600) that never takes a secret, a literal, or
an answer to a confirmation."""

from __future__ import annotations

import os


def history_path() -> str:
    from syncsh.private import data_dir_path as data_dir
    return os.path.join(data_dir(), "history")


def is_secret(line: str) -> bool:
    """Lines that never enter history: authentication and anything carrying a literal."""
    from syncsh.private import is_secret as secret
    return secret(line) or ("{" in line and "}" in line)


def make_history(path: str):
    from prompt_toolkit.history import FileHistory

    from syncsh import private

    class FilteredHistory(FileHistory):
        def store_string(self, string: str) -> None:
            if not is_secret(string):
                super().store_string(string)

        def append_string(self, string: str) -> None:
            if is_secret(string):
                return
            super().append_string(string)

    private.ensure_dir(os.path.dirname(path))
    private.touch(path)                     # 0600 before the first line goes in
    return FilteredHistory(path)
