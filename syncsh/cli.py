"""The ``syncsh`` command line: ``main()``, the table of commands, and the one error funnel.

    syncsh [options] [TARGET] [-c COMMAND]… [-f FILE]…     one-shot, or the REPL
    syncsh server --store DIR [-v [-v]]                      the reference sync_server
    syncsh demo init DIR | demo reset | demo path             the demo pair
    syncsh replicate --master STORE -s TARGET …               repair a replica
    syncsh replay | record | diff | tap …                     (each with --help)

Every command is a module of syncsh/frontend/ with ``run(argv, env) -> ExitStatus``.
Exit status: 0 every reply OK, 1 a NO or BAD, 2 a connection or usage error, always
with one line on stderr and no traceback (unless --debug).
"""

from __future__ import annotations

import importlib
import os
import sys

from syncsh.environment import Environment
from syncsh.errors import SyncshError, internal_error_line
from syncsh.status import ExitStatus

# the first word names the command; anything else is the console's (syncsh [TARGET] …)
COMMANDS = {name: f"syncsh.frontend.{name}" for name in
            ("server", "demo", "replicate", "replay", "record", "diff", "tap")}
CLIENT = "syncsh.frontend.client"


def main(argv: list[str] | None = None, env: Environment | None = None) -> ExitStatus:
    argv = sys.argv[1:] if argv is None else argv
    env = env or Environment.of_process()
    # history, audit log, recordings, stores, known_hosts: whatever syncsh creates holds
    # what was typed or what a server holds, and is its owner's only
    os.umask(os.umask(0o077) | 0o077)
    command = COMMANDS.get(argv[0]) if argv else None
    try:
        front_end = importlib.import_module(command or CLIENT)
        return front_end.run(argv[1:] if command else argv, env)
    except BaseException as exc:       # noqa: B036 -- the one funnel: every outcome a status
        return funnel(exc, env, debug="--debug" in argv)


def funnel(exc: BaseException, env: Environment, *, debug: bool) -> ExitStatus:
    """Every error a command lets go becomes one line on stderr and an exit status;
    --debug adds the traceback, never changes the status."""
    if isinstance(exc, SystemExit):            # argparse: --help, --version
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or ExitStatus.OK
        env.warn(f"syncsh: {exc.code}")
        return ExitStatus.ERROR
    if isinstance(exc, BrokenPipeError):
        _quiet_broken_pipe(env)
        return ExitStatus.OK
    if isinstance(exc, KeyboardInterrupt):
        env.warn("syncsh: interrupted")
        return ExitStatus.INTERRUPTED
    if not isinstance(exc, Exception):
        raise exc
    if debug:
        import traceback
        traceback.print_exception(exc, file=env.stderr)
    if isinstance(exc, SyncshError):
        env.warn(f"syncsh: {exc}")               # (errors may quote the server: escaped)
    elif isinstance(exc, OSError) and exc.strerror:     # a file or directory the system
        where = f": {exc.filename}" if exc.filename else ""     # refused: not a bug of ours
        env.warn(f"syncsh: {exc.strerror}{where}")
    else:                                        # a bug of ours: still one line
        env.stderr.write(internal_error_line(exc, debug) + "\n")
    return ExitStatus.ERROR


def _quiet_broken_pipe(env: Environment) -> None:
    """The reader went away (syncsh … | head): what is still buffered goes nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, env.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
