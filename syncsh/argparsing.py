"""Argument parsing every command shares: a parser whose errors are one line (exit 2), and
byte sizes with K, M, G suffixes. Library-level: front ends and the library's own readers
of command lines (a transcript's `$ replicate`) use it alike."""

from __future__ import annotations

import argparse

from syncsh.errors import UsageError


class Parser(argparse.ArgumentParser):
    out = None          # where --help and --version go (the command's stdout), if not sys.stdout

    def error(self, message):            # one line, exit 2
        raise UsageError(message)

    def _print_message(self, message, file=None):
        import sys
        if self.out is not None and (file is None or file is sys.stdout):
            file = self.out
        super()._print_message(message, file)


def parse(parser: Parser, argv: list[str], env):
    """``parser``'s reading of ``argv``, its help and version written to ``env``'s stdout."""
    _send_help_to(parser, env.stdout)
    return parser.parse_args(argv)


def _send_help_to(parser, out) -> None:
    parser.out = out
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _send_help_to(sub, out)


def size(text: str) -> int:
    """A byte count: 1048576, 1024K, 16M, 1G."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    number, unit = (text[:-1], units[text[-1].upper()]) if text[-1:].upper() in units \
        else (text, 1)
    try:
        value = int(float(number) * unit)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None
    if value < 1024:
        raise argparse.ArgumentTypeError(f"{text!r}: at least 1K")
    return value


def seconds(text: str) -> float:
    """A time in seconds: a number, not negative (0 means none or at once, as the option
    says), finite."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: seconds must be 0 or more")
    return value


def positive_seconds(text: str) -> float:
    """A wait that must be some time: above 0."""
    value = seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: seconds must be above 0")
    return value
