"""Command grammars as data: one table per dialect.

Each row names a command's arguments and their kinds, whether it writes to the replica,
what its untagged replies are, a one-line summary and its syntax.  Parsing, completion,
highlighting, help, toolbar hints and the guard rail all read these rows; nothing else
lists commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LITERAL_HEADER = re.compile(r"\{\d+\+?\}\s*$")

# Argument kinds (what completion offers, what validation checks)
USER, MAILBOX, UID, FLAGS, GUID, NUMBER, ACL, UNIQUEID, ASTRING, SEQSET, LITERAL, ITEM, MECH = (
    "user", "mailbox", "uid", "flag-list", "guid", "number", "acl", "uniqueid", "string",
    "seqset", "literal", "upload-item", "mechanism")


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    kind: str
    repeat: bool = False       # one or more
    optional: bool = False


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    args: tuple[Arg, ...]
    write: bool
    summary: str
    replies: str | None = None     # how "*" lines of the reply are read
    needs: str = ""                # U: a current user, M: a selected mailbox
    sensitive: bool = False        # its arguments never enter history or transcripts

    @property
    def syntax(self) -> str:
        parts = [self.name]
        for arg in self.args:
            text = arg.name + (" …" if arg.repeat else "")
            parts.append(f"[{text}]" if arg.optional else text)
        return " ".join(parts)

    @property
    def required_args(self) -> int:
        return sum(1 for a in self.args if not a.optional)


def _c(name, args, write, summary, replies=None, needs="", sensitive=False):
    return CommandSpec(name, tuple(args), write, summary, replies, needs, sensitive)


LEGACY = {c.name: c for c in [
    _c("USER", [Arg("user", USER)], False, "set the current user and take its lock"),
    _c("USER_SOME", [Arg("user", USER), Arg("mailbox", MAILBOX, repeat=True)], False,
       "set the user (locked) and list the named mailboxes with their messages", "mailboxes"),
    _c("USER_ALL", [Arg("user", USER)], False,
       "set the user (locked) and dump all its mailboxes, subscriptions, sieve, quota",
       "mailboxes"),
    _c("ENDUSER", [], False, "release the user lock and forget the current user"),
    _c("SELECT", [Arg("mailbox", MAILBOX)], False, "open a mailbox for message commands",
       needs="U"),
    _c("STATUS", [], False, "list the selected mailbox's messages", "messages", "M"),
    _c("INFO", [], False, "uidvalidity, uidlast and user flags of the selected mailbox",
       needs="M"),
    _c("SETFLAGS", [Arg("uid", UID), Arg("flags", FLAGS), Arg("uid flags", UID, repeat=True,
                                                              optional=True)], True,
       "replace the flags of messages (uid (flags) pairs)", needs="M"),
    _c("EXPUNGE", [Arg("uid", UID, repeat=True)], True, "remove messages now", needs="M"),
    _c("UPLOAD", [Arg("uidlast", NUMBER), Arg("appenddate", NUMBER),
                  Arg("item", ITEM, repeat=True)], True,
       "add messages (SIMPLE, PARSED or COPY items)", needs="M"),
    _c("UIDLAST", [Arg("uidlast", NUMBER), Arg("appenddate", NUMBER)], True,
       "set uidlast and the last append date", needs="M"),
    _c("SETSEEN", [Arg("user", USER), Arg("lastread", NUMBER), Arg("last-recent-uid", NUMBER),
                   Arg("lastchange", NUMBER), Arg("seenuids", SEQSET)], True,
       "overwrite a user's seen state for the selected mailbox", needs="M"),
    _c("RESERVE", [Arg("mailbox", MAILBOX), Arg("guid", GUID, repeat=True)], False,
       "stage message bodies for later UPLOAD … COPY", "reserve", "U"),
    _c("CONTENTS", [], False, "dump the selected mailbox with message bodies", "contents", "UM"),
    _c("CREATE", [Arg("mailbox", MAILBOX), Arg("uniqueid", UNIQUEID), Arg("acl", ACL),
                  Arg("mbtype", NUMBER), Arg("uidvalidity", NUMBER)], True,
       "create a mailbox", needs="U"),
    _c("DELETE", [Arg("mailbox", MAILBOX)], True, "delete a mailbox", needs="U"),
    _c("RENAME", [Arg("old", MAILBOX), Arg("new", MAILBOX)], True, "rename a mailbox",
       needs="U"),
    _c("SETACL", [Arg("mailbox", MAILBOX), Arg("acl", ACL)], True, "replace a mailbox's ACL"),
    _c("LIST", [], False, "list the current user's mailboxes", "list", "U"),
    _c("LSUB", [], False, "list the current user's subscriptions", "lsub", "U"),
    _c("ADDSUB", [Arg("mailbox", MAILBOX)], True, "subscribe the current user", needs="U"),
    _c("DELSUB", [Arg("mailbox", MAILBOX)], True, "unsubscribe the current user", needs="U"),
    _c("QUOTA", [Arg("root", MAILBOX)], False, "read a quota root's limit (KiB)"),
    _c("SETQUOTA", [Arg("root", MAILBOX), Arg("limit", NUMBER)], True,
       "set a quota root's limit (KiB)"),
    _c("LIST_SIEVE", [], False, "list the current user's sieve scripts", "sieve", "U"),
    _c("GET_SIEVE", [Arg("name", ASTRING)], False, "fetch a sieve script", needs="U"),
    _c("UPLOAD_SIEVE", [Arg("name", ASTRING), Arg("mtime", NUMBER), Arg("script", LITERAL)],
       True, "store a sieve script", needs="U"),
    _c("ACTIVATE_SIEVE", [Arg("name", ASTRING)], True, "make a sieve script active", needs="U"),
    _c("DEACTIVATE_SIEVE", [], True, "make no sieve script active", needs="U"),
    _c("DELETE_SIEVE", [Arg("name", ASTRING)], True, "delete a sieve script", needs="U"),
    _c("RESET", [Arg("user", USER)], True, "delete everything the replica has for a user"),
    _c("RESTART", [], False, "discard staged bodies and reset the session"),
    _c("EXIT", [], False, "end the session"),
    _c("AUTHENTICATE", [Arg("mechanism", MECH), Arg("initial-response", ASTRING, optional=True)],
       False, "SASL login (2005 dialect)", sensitive=True),
    _c("STARTTLS", [], False, "start TLS (2005 dialect)"),
]}


def lookup(table: dict[str, CommandSpec], word: str) -> CommandSpec | None:
    return table.get(word.upper())


def command_word(line: str) -> str:
    return line.strip().split(" ", 1)[0].split("\t", 1)[0]


def is_write(table: dict[str, CommandSpec], line: str) -> bool:
    """Whether a command line would change the replica.  A command the table does not know
    counts as a write: the guard rail never lets an unknown through by surprise."""
    word = command_word(line)
    if not word:
        return False
    spec = lookup(table, word)
    return True if spec is None else spec.write


def unbalanced(line: str) -> str | None:
    """What is left open at the end of a line (a quote or a parenthesis), or None.

    The server would read the next line into an open list or quote, so such a line is
    never sent as it stands."""
    depth = 0
    quoted = False
    escaped = False
    for ch in line:
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return "a ')' closes nothing"
    if quoted:
        return "an open quote"
    if depth:
        return "an open '('"
    return None


def count_args(line: str) -> int:
    """Top-level arguments after the command word (a flag list counts as one)."""
    count = 0
    depth = 0
    quoted = False
    in_word = False
    escaped = False
    for ch in line.strip().split(" ", 1)[1] if " " in line.strip() else "":
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
            continue
        if ch == " " and depth == 0:
            in_word = False
            continue
        if not in_word and depth == 0:
            count += 1
            in_word = True
        if ch == '"':
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
    return count


def check_line(table: dict[str, CommandSpec], line: str) -> str | None:
    """Why a line must not be sent as it stands, or None.  Catches what would make the
    server read the following line into this command."""
    problem = unbalanced(line)
    if problem:
        return f"unbalanced input: {problem}"
    if "\r" in line or "\n" in line:
        return "a command is one line"
    if _LITERAL_HEADER.search(line):
        return "a literal cannot be typed (the server would wait for its bytes); use a quoted string"
    spec = lookup(table, command_word(line))
    if spec is None:
        return None
    if count_args(line) < spec.required_args:
        return f"missing argument; syntax: {spec.syntax}"
    return None
