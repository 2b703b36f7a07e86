"""Files that hold what a user typed or a server holds (history, audit log, recordings,
stores, known_hosts): only their owner reads them.  The data directory is 0700 and every
file syncsh creates in it, or records to, is 0600; and the environment a child process
gets carries none of syncsh's secrets."""

from __future__ import annotations

import os

DIR_MODE = 0o700
FILE_MODE = 0o600

# what syncsh reads secrets from: a child (exec:, cyrus:, ssh) has no business with them
SECRET_VARIABLES = ("SYNCSH_PASSWORD",)


def ensure_dir(path: str) -> str:
    """Create a private directory (and its missing parents); tighten one syncsh made."""
    os.makedirs(path, mode=DIR_MODE, exist_ok=True)
    try:
        if os.stat(path).st_uid == os.getuid():
            os.chmod(path, DIR_MODE)
    except OSError:
        pass
    return path


def data_dir() -> str:
    from syncsh.demo import data_dir as where
    return ensure_dir(where())


def _open(path: str, flags: int):
    ensure_dir(os.path.dirname(os.path.abspath(path)))
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)         # a file left by an older version: made private
    except OSError:
        pass
    return fd


def open_append(path: str):
    return os.fdopen(_open(path, os.O_WRONLY | os.O_APPEND), "ab")


def open_write(path: str, **text):
    """A new private file (truncated), in text mode with the given encoding options."""
    return os.fdopen(_open(path, os.O_WRONLY | os.O_TRUNC), "w", **text)


def touch(path: str) -> str:
    os.close(_open(path, os.O_WRONLY))
    return path


def child_env(extra: dict | None = None) -> dict:
    """The environment for a child process: this one's, without syncsh's secrets."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}
    env.update(extra or {})
    return env
