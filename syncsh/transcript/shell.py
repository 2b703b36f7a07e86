"""Reading a transcript's `$` lines: which host `$ ssh …` goes to, the arguments of
`$ replicate …`, and the demo names a transcript may use without saying where they go."""

from __future__ import annotations

from syncsh.errors import SyncshError

DEMO_NAMES = ("cyrus-1", "cyrus-2")

# ssh options that take an argument (OpenSSH's ssh(1))
_SSH_ARG_OPTIONS = set("BbcDEeFIiJLlmOoPpQRSWw")


class Unreplayable(SyncshError):
    pass


def ssh_host(argv: list[str]) -> str:
    """The HOST of ``ssh [options] [user@]HOST [command …]``."""
    i = 1
    while i < len(argv):
        word = argv[i]
        if word == "--":
            i += 1
            break
        if word.startswith("-") and len(word) > 1:
            letters = word[1:]
            for k, letter in enumerate(letters):
                if letter in _SSH_ARG_OPTIONS:
                    if k == len(letters) - 1:
                        i += 1          # the argument is the next word
                    break
            i += 1
            continue
        break
    if i >= len(argv):
        raise Unreplayable("ssh without a host")
    return argv[i].rsplit("@", 1)[-1]


def parser_args(parser, argv):
    """replicate's own option parser, reading a transcript's `$ replicate` line."""
    try:
        args = parser.parse_args(argv)
    except SyncshError as exc:
        raise Unreplayable(f"replicate: {exc}") from None
    return args
