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


def ensure_dir(path: str, *, tighten: bool = True) -> str:
    """Create a private directory (and its missing parents).  With ``tighten``, an existing
    one of ours (one left 0755 by an older version) is made private too, never a shared
    one such as /tmp; without, an existing directory (where a recording goes) is left as
    it is."""
    import stat
    os.makedirs(path, mode=DIR_MODE, exist_ok=True)
    if not tighten:
        return path
    try:
        info = os.stat(path)
        if info.st_uid == os.getuid() and not info.st_mode & stat.S_ISVTX and \
                stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(path, DIR_MODE)
    except OSError:
        pass
    return path


def data_dir_path(environ=None) -> str:
    """Where syncsh keeps its files (SYNCSH_DATA_DIR, else the platform's data directory);
    ``environ``: the command's Environment's variables (this process's when None)."""
    override = (os.environ if environ is None else environ).get("SYNCSH_DATA_DIR")
    if override:
        return override
    from platformdirs import user_data_dir
    return user_data_dir("syncsh", appauthor=False)


def data_dir(environ=None) -> str:
    """The data directory, made (0700) if it is not there."""
    return ensure_dir(data_dir_path(environ))


def _open(path: str, flags: int):
    ensure_dir(os.path.dirname(os.path.abspath(path)), tighten=False)
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


def tighten_tree(top: str) -> None:
    """A store syncsh just built: its directories 0700, its files 0600."""
    for directory, _, files in os.walk(top):
        os.chmod(directory, DIR_MODE)
        for name in files:
            os.chmod(os.path.join(directory, name), FILE_MODE)


def masked(line: str) -> str:
    """A command line as it may be shown or kept: the secret words of a command the tables
    mark sensitive (AUTHENTICATE's initial response), or of LOGIN, are starred out (typed
    by hand, they must not reach the trace, the history, a recording or the audit log)."""
    from syncsh.protocol.commands import words_before_secret
    words = line.split()
    shown = words_before_secret(words[0]) if words else None
    if shown is None or len(words) <= shown + 1:
        return line
    return " ".join(words[:shown + 1]) + " ***"


def is_secret(line: str) -> bool:
    """Whether a line is one whose words may hold a secret (kept out of the history)."""
    from syncsh.protocol.commands import words_before_secret
    words = line.split()
    return bool(words) and words_before_secret(words[0]) is not None


def child_env(extra: dict | None = None, environ=None) -> dict:
    """The environment for a child process: the command's (``environ``; this process's
    when None), without syncsh's secrets."""
    environ = os.environ if environ is None else environ
    env = {k: v for k, v in environ.items() if k not in SECRET_VARIABLES}
    env.update(extra or {})
    return env
