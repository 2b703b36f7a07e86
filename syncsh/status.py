"""One exit status for every command."""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """0 every reply OK (or identical), 1 a NO or BAD (or divergent), 2 a usage or
    connection error, 130 interrupted."""
    OK = 0
    FAILED = 1
    ERROR = 2
    INTERRUPTED = 130
