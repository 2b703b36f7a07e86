"""``syncsh diff``: how a master and a replica diverge, read through the protocol only."""

from __future__ import annotations

from syncsh.argparsing import parse
from syncsh.diff.request import parser
from syncsh.status import ExitStatus


def run(argv: list[str], env) -> ExitStatus:
    from syncsh.diff.run import run_diff
    return run_diff(parse(parser(), argv, env), env)
