"""Reading a command's arguments from its tokens, the way the original server did:
exactly one space between items, and the error texts of legacy-protocol.md section 6.3."""

from __future__ import annotations

from syncsh.protocol.wire import ATOM, LITERAL, LPAREN, RPAREN, SP, STRING, Token, decode, is_atom

KNOWN_SYSTEM_FLAGS = {"\\answered", "\\flagged", "\\deleted", "\\draft"}


class Bad(Exception):
    """The command could not be parsed: ``BAD <text>``, nothing was done."""


class No(Exception):
    """The command failed: ``NO <text>``."""


class Args:
    def __init__(self, command: str, tokens: list[Token], position: int = 1) -> None:
        self.command = command
        self.tokens = tokens
        self.i = position

    # --- low level
    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token | None:
        token = self.peek()
        if token is not None:
            self.i += 1
        return token

    @property
    def at_end(self) -> bool:
        return self.i >= len(self.tokens)

    def missing(self) -> Bad:
        return Bad(f"Missing required argument to {self.command}")

    def invalid(self) -> Bad:
        return Bad(f"Invalid argument to {self.command}")

    def space(self) -> None:
        """The single space before the next argument."""
        token = self.take()
        if token is None or token.kind != SP:
            raise self.missing()

    def end(self) -> None:
        if not self.at_end:
            raise Bad(f"Unexpected extra arguments to {self.command}")

    # --- values
    def astring_raw(self) -> bytes:
        self.space()
        token = self.take()
        if token is None or token.kind not in (ATOM, STRING, LITERAL):
            raise self.missing()
        return token.value

    def astring(self) -> str:
        return decode(self.astring_raw())

    def number(self) -> int:
        self.space()
        token = self.take()
        if token is None or token.kind == SP:
            raise self.missing()
        return to_number(token, self.invalid)

    def more(self) -> bool:
        """Another space-separated item follows."""
        token = self.peek()
        return token is not None and token.kind == SP



def to_number(token: Token | None, error) -> int:
    if token is None or token.kind != ATOM or not token.value.isdigit() or len(token.value) > 10:
        raise error()
    value = int(token.value)
    if value >= 1 << 32:
        raise error()
    return value


def read_flag_list(args: Args, error) -> list[str]:
    """``(flag flag …)`` → the flags that count: system flags lower-cased, \\seen and
    unknown system flags dropped, user flags kept as given."""
    token = args.take()
    if token is None or token.kind != LPAREN:
        raise error()
    flags: list[str] = []
    first = True
    while True:
        token = args.take()
        if token is None:
            raise error()
        if token.kind == RPAREN:
            return flags
        if not first:
            if token.kind != SP:
                raise error()
            token = args.take()
        if token is None or token.kind != ATOM:
            raise error()
        first = False
        name = token.value
        if name.startswith(b"\\"):
            lowered = decode(name).lower()
            if lowered in KNOWN_SYSTEM_FLAGS and lowered not in flags:
                flags.append(lowered)
        elif is_atom(name):
            flag = decode(name)
            if flag not in flags:
                flags.append(flag)
        else:
            raise error()

