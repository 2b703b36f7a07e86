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
MAILBOX_LIST, KVLIST, LIST = "mailbox-list", "kvlist", "list"


# What each kind of argument looks like, for help: its form, and an example in each
# dialect (documented, modern).  An argument may say more of itself (Arg.form, .example).
KINDS = {
    USER: ("a user name", "dpc22", "carol"),
    MAILBOX: ("a mailbox name, dot-separated", "user.dpc22", "user.carol.Sent"),
    UID: ("a message UID (a number above 0)", "4140", "3"),
    FLAGS: ("a flag list in parentheses: system flags begin with \\, () is none",
            "(\\answered hello)", "(\\Seen)"),
    GUID: ("a message GUID: 24 hex digits (40 in Cyrus 3), NIL for the null GUID",
           "0101003f4c56b08c9d000026", "94b4e66a434cf6a0fa1fabbbbbcba707d5e76f2a"),
    NUMBER: ("a number", "4156", "4156"),
    ACL: ("an ACL: identifier TAB rights TAB … in one quoted string",
          '"dpc22\\tlrswipcda\\tanonymous\\t0\\t"', '"carol\\tlrswipkxtecdan\\t"'),
    UNIQUEID: ("a mailbox's uniqueid", "6b98205c796c6c61", "ixdqeyi1gzemooftrdyuw66b"),
    ASTRING: ("a word, or a quoted string", "myscript", "myscript"),
    SEQSET: ("UIDs as ranges: a:b,c (\"\" for none)", "1:3697,3919:4140", "1:3"),
    LITERAL: ("{N+} then N bytes: cannot be typed (the prompt sends one line)", "{5+}", "{5+}"),
    ITEM: ("one message: SIMPLE, PARSED or COPY, then its fields (below)",
           "COPY 0101003f4c56b08c9d000026 4157 1062968700 1062968700 1062968700 ()",
           "COPY 0101003f4c56b08c9d000026 4157 1062968700 1062968700 1062968700 ()"),
    MECH: ("a SASL mechanism", "PLAIN", "PLAIN"),
    MAILBOX_LIST: ("mailbox names in parentheses", "(user.dpc22 user.dpc22.sent)",
                   "(user.carol user.carol.Sent)"),
    KVLIST: ("a dlist kvlist: %(KEY value KEY value …); values may be (lists) or %(kvlists)",
             "%(…)", "%(…)"),
    LIST: ("values in parentheses", "(…)", "(…)"),
}

# a value for each kvlist key, for the modern dialect's examples (as Cyrus 3.6 sends them)
KEY_EXAMPLES = {
    "USERID": "carol", "MBOXNAME": "user.carol.Sent", "OLDMBOXNAME": "user.carol.Sent",
    "NEWMBOXNAME": "user.carol.Archive", "PARTITION": "default", "ROOT": "user.carol",
    "UNIQUEID": "ixdqeyi1gzemooftrdyuw66b", "GUID": "94b4e66a434cf6a0fa1fabbbbbcba707d5e76f2a",
    "UID": "3", "LIMIT": "100000", "STORAGE": "0", "MESSAGE": "0", "FILENAME": "myscript.bc",
    "ENTRY": "/comment", "VALUE": '"hello"', "LASTREAD": "1700000000", "LASTUID": "3",
    "LASTCHANGE": "1700000000", "SEENUIDS": "1:3", "LAST_UPDATE": "1700000000",
    "UIDVALIDITY": "1700000000", "MBOXTYPE": "e", "SYNC_CRC": "0",
}

# UPLOAD's items, as the documented dialect spells them (each on one line; a literal cannot
# be typed, so only COPY items can be sent from the prompt; \upload sends a file)
ITEM_FORMS = (
    ("SIMPLE", "SIMPLE guid|NIL uid internaldate sentdate last-updated (flags) {N+}message"),
    ("PARSED", "PARSED guid|NIL uid internaldate sentdate last-updated (flags) header-size "
               "content-lines cache-version {N+}cache{N+}message"),
    ("COPY", "COPY guid uid internaldate sentdate last-updated (flags)   "
             "(a body RESERVEd or uploaded earlier in the session)"),
)


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    kind: str
    repeat: bool = False       # one or more
    optional: bool = False
    form: str = ""             # what it is, when its kind alone does not say
    example: str = ""
    secret: bool = False       # it and what follows it never shown or kept (masked)

    def described(self, modern: bool = False) -> tuple[str, str]:
        """(form, example) of the argument, for help."""
        form, legacy_example, modern_example = KINDS.get(self.kind, (self.kind, "", ""))
        return (self.form or form,
                self.example or (modern_example if modern else legacy_example))


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    args: tuple[Arg, ...]
    write: bool
    summary: str
    replies: str | None = None     # how "*" lines of the reply are read
    needs: str = ""                # U: a current user, M: a selected mailbox
    sensitive: bool = False        # its arguments never enter history or transcripts
    keys: tuple[str, ...] = ()     # modern dialect: the kvlist keys of the argument

    @property
    def syntax(self) -> str:
        parts = [self.name]
        for arg in self.args:
            text = arg.name + (" …" if arg.repeat else "")
            parts.append(f"[{text}]" if arg.optional else text)
        return " ".join(parts)

    def example(self, modern: bool = False) -> str:
        """A line a user could type (optional arguments left out)."""
        parts = [self.name]
        for arg in self.args:
            if arg.optional:
                continue
            if arg.kind == KVLIST and not arg.example:
                shown = self.keys[:4]
                parts.append("%(" + " ".join(f"{key} {KEY_EXAMPLES.get(key, '…')}"
                                             for key in shown)
                             + (" …)" if len(self.keys) > len(shown) else ")"))
            else:
                parts.append(arg.described(modern)[1])
        return " ".join(part for part in parts if part)

    @property
    def required_args(self) -> int:
        return sum(1 for a in self.args if not a.optional)


def _c(name, args, write, summary, replies=None, needs="", sensitive=False, keys=()):
    return CommandSpec(name, tuple(args), write, summary, replies, needs, sensitive, tuple(keys))


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
    _c("SETFLAGS", [Arg("uid", UID), Arg("flags", FLAGS), Arg("uid flags", UID, repeat=True, optional=True,
                                          form="more uid (flags) pairs, in ascending UID order",
                                          example="4089 (\\answered) 4140 ()")], True,
       "replace the flags of messages (uid (flags) pairs)", needs="M"),
    _c("EXPUNGE", [Arg("uid", UID, repeat=True, example="4089 4140")], True, "remove messages now", needs="M"),
    _c("UPLOAD", [Arg("uidlast", NUMBER, form="the mailbox's new uidlast (set as given, even lower)",
                  example="4157"),
              Arg("appenddate", NUMBER, form="the last append date, a Unix time",
                  example="1062968700"),
              Arg("item", ITEM, repeat=True)], True,
       "add messages (SIMPLE, PARSED or COPY items)", needs="M"),
    _c("UIDLAST", [Arg("uidlast", NUMBER, form="the mailbox's new uidlast (set as given, even lower)",
                  example="4157"),
              Arg("appenddate", NUMBER, form="the last append date, a Unix time",
                  example="1062968700")], True,
       "set uidlast and the last append date", needs="M"),
    _c("SETSEEN", [Arg("user", USER),
                   Arg("lastread", NUMBER, form="when the user last read it, a Unix time",
                       example="1062968731"),
                   Arg("last-recent-uid", NUMBER, form="the last UID the user saw as recent",
                       example="4156"),
                   Arg("lastchange", NUMBER, form="when the seen state changed, a Unix time",
                       example="1062968731"),
                   Arg("seenuids", SEQSET)], True,
       "overwrite a user's seen state for the selected mailbox", needs="M"),
    _c("RESERVE", [Arg("mailbox", MAILBOX, form="the mailbox holding the messages"),
                   Arg("guid", GUID, repeat=True)], False,
       "stage message bodies for later UPLOAD … COPY", "reserve", "U"),
    _c("CONTENTS", [], False, "dump the selected mailbox with message bodies", "contents", "UM"),
    _c("CREATE", [Arg("mailbox", MAILBOX), Arg("uniqueid", UNIQUEID), Arg("acl", ACL),
                  Arg("mbtype", NUMBER, form="the mailbox type: 0 for mail", example="0"),
                  Arg("uidvalidity", NUMBER, form="a Unix time, new for each new mailbox",
                      example="1062971802")], True,
       "create a mailbox", needs="U"),
    _c("DELETE", [Arg("mailbox", MAILBOX)], True, "delete a mailbox", needs="U"),
    _c("RENAME", [Arg("old", MAILBOX, example="user.dpc22.old"),
                  Arg("new", MAILBOX, example="user.dpc22.new")], True, "rename a mailbox",
       needs="U"),
    _c("SETACL", [Arg("mailbox", MAILBOX), Arg("acl", ACL)], True, "replace a mailbox's ACL"),
    _c("LIST", [], False, "list the current user's mailboxes", "list", "U"),
    _c("LSUB", [], False, "list the current user's subscriptions", "lsub", "U"),
    _c("ADDSUB", [Arg("mailbox", MAILBOX)], True, "subscribe the current user", needs="U"),
    _c("DELSUB", [Arg("mailbox", MAILBOX)], True, "unsubscribe the current user", needs="U"),
    _c("QUOTA", [Arg("root", MAILBOX, form="a quota root (a mailbox name)")], False, "read a quota root's limit (KiB)"),
    _c("SETQUOTA", [Arg("root", MAILBOX, form="a quota root (a mailbox name)"),
                    Arg("limit", NUMBER, form="the limit in KiB", example="100000")], True,
       "set a quota root's limit (KiB)"),
    _c("LIST_SIEVE", [], False, "list the current user's sieve scripts", "sieve", "U"),
    _c("GET_SIEVE", [Arg("name", ASTRING)], False, "fetch a sieve script", needs="U"),
    _c("UPLOAD_SIEVE", [Arg("name", ASTRING),
                        Arg("mtime", NUMBER, form="a Unix time", example="1062968700"),
                        Arg("script", LITERAL)],
       True, "store a sieve script", needs="U"),
    _c("ACTIVATE_SIEVE", [Arg("name", ASTRING)], True, "make a sieve script active", needs="U"),
    _c("DEACTIVATE_SIEVE", [], True, "make no sieve script active", needs="U"),
    _c("DELETE_SIEVE", [Arg("name", ASTRING)], True, "delete a sieve script", needs="U"),
    _c("RESET", [Arg("user", USER)], True, "delete everything the replica has for a user"),
    _c("RESTART", [], False, "discard staged bodies and reset the session"),
    # not in this dialect (2.3 added it): its servers answer BAD Unrecognized command, and
    # a command that changes nothing is no write whatever the server makes of it
    _c("NOOP", [], False, "do nothing (2.3 and later; this dialect answers BAD)"),
    _c("EXIT", [], False, "end the session"),
    _c("AUTHENTICATE", [Arg("mechanism", MECH),
                        Arg("initial-response", ASTRING, optional=True, secret=True,
                            form="the SASL initial response in base64, = when empty "
                                 "(never recorded)", example="=")],
       False, "SASL login (2005 dialect)", sensitive=True),
    _c("STARTTLS", [], False, "start TLS (2005 dialect)"),
]}


_MAILBOX_KEYS = ("UNIQUEID", "MBOXNAME", "MBOXTYPE", "SYNC_CRC", "SYNC_CRC_ANNOT", "LAST_UID",
                 "HIGHESTMODSEQ", "RECENTUID", "RECENTTIME", "LAST_APPENDDATE", "POP3_LAST_LOGIN",
                 "POP3_SHOW_AFTER", "XCONVMODSEQ", "RACLMODSEQ", "UIDVALIDITY", "PARTITION", "ACL",
                 "OPTIONS", "QUOTAROOT", "CREATEDMODSEQ", "FOLDERMODSEQ", "ANNOTATIONS", "RECORD",
                 "SINCE_MODSEQ", "SINCE_CRC", "SINCE_CRC_ANNOT")
_RECORD_KEYS = ("UID", "MODSEQ", "LAST_UPDATED", "FLAGS", "INTERNALDATE", "SIZE", "GUID",
                "ANNOTATIONS")


def _kv(name, keys, write, summary, replies=None):
    return _c(name, [Arg("%(…)", KVLIST)], write, summary, replies, keys=keys)


CSYNC = {c.name: c for c in [
    _c("GET USER", [Arg("userid", USER)], False,
       "a user's mailboxes, quota roots, seen state, subscriptions and sieve", "dlist"),
    _c("GET META", [Arg("userid", USER)], False, "a user's seen state, subscriptions, sieve",
       "dlist"),
    _c("GET MAILBOXES", [Arg("(mailbox …)", MAILBOX_LIST)], False,
       "the named mailboxes (unknown names are skipped)", "dlist"),
    _c("GET UNIQUEIDS", [Arg("(uniqueid …)", LIST, form="mailbox uniqueids in parentheses",
                             example="(ixdqeyi1gzemooftrdyuw66b)")], False, "mailboxes by uniqueid", "dlist"),
    _c("GET FULLMAILBOX", [Arg("mailbox", MAILBOX)], False,
       "a mailbox with every index record", "dlist"),
    _c("GET QUOTA", [Arg("root", MAILBOX)], False, "a quota root's limits and usage", "dlist"),
    _c("GET ANNOTATION", [Arg("mailbox", MAILBOX)], False, "a mailbox's annotations", "dlist"),
    _kv("GET FETCH", ("MBOXNAME", "PARTITION", "UNIQUEID", "GUID", "UID"), False,
        "one message file from the replica", "dlist"),
    _kv("GET FETCH_SIEVE", ("USERID", "FILENAME"), False, "one sieve script", "dlist"),
    _kv("APPLY RESERVE", ("PARTITION", "MBOXNAME", "GUID"), False,
        "stage message files the replica already holds; the rest come back MISSING", "dlist"),
    _c("APPLY MESSAGE", [Arg("(%{partition guid size} …)", LIST,
                              form="message files, each %{partition guid size}, then its "
                                   "bytes: use \\upload FILE MAILBOX")], True,
       "upload message files (use \\upload)", "dlist"),
    _kv("APPLY MAILBOX", _MAILBOX_KEYS, True, "create or update a mailbox and its records"),
    _kv("APPLY LOCAL_MAILBOX", _MAILBOX_KEYS, True, "APPLY MAILBOX, not replicated further"),
    _c("APPLY UNMAILBOX", [Arg("mailbox", MAILBOX)], True, "delete a mailbox"),
    _c("APPLY LOCAL_UNMAILBOX", [Arg("mailbox", MAILBOX)], True,
       "delete a mailbox, not replicated further"),
    _kv("APPLY RENAME", ("OLDMBOXNAME", "NEWMBOXNAME", "PARTITION", "UIDVALIDITY"), True,
        "rename a mailbox"),
    _kv("APPLY LOCAL_RENAME", ("OLDMBOXNAME", "NEWMBOXNAME", "PARTITION", "UIDVALIDITY"), True,
        "rename, not replicated further"),
    _kv("APPLY EXPUNGE", ("MBOXNAME", "UNIQUEID", "UID"), True,
        "mark records expunged without a modseq change"),
    _kv("APPLY QUOTA", ("ROOT", "LIMIT", "STORAGE", "MESSAGE", "X-ANNOTATION-STORAGE",
                        "X-NUM-FOLDERS", "MODSEQ"), True, "set a quota root's limits"),
    _c("APPLY UNQUOTA", [Arg("root", MAILBOX)], True, "remove a quota root"),
    _kv("APPLY ANNOTATION", ("MBOXNAME", "ENTRY", "USERID", "VALUE"), True,
        "set a mailbox or server annotation"),
    _kv("APPLY UNANNOTATION", ("MBOXNAME", "ENTRY", "USERID"), True, "remove an annotation"),
    _kv("APPLY SEEN", ("USERID", "UNIQUEID", "LASTREAD", "LASTUID", "LASTCHANGE", "SEENUIDS"),
        True, "overwrite a user's seen state for a mailbox"),
    _kv("APPLY SUB", ("USERID", "MBOXNAME"), True, "subscribe"),
    _kv("APPLY UNSUB", ("USERID", "MBOXNAME"), True, "unsubscribe"),
    _kv("APPLY SIEVE", ("USERID", "FILENAME", "LAST_UPDATE", "CONTENT"), True,
        "store a sieve script"),
    _kv("APPLY UNSIEVE", ("USERID", "FILENAME"), True, "delete a sieve script"),
    _kv("APPLY ACTIVATE_SIEVE", ("USERID", "FILENAME"), True,
        "make a script active (FILENAME is NAME.bc)"),
    _kv("APPLY UNACTIVATE_SIEVE", ("USERID",), True, "no active script"),
    _c("APPLY UNUSER", [Arg("userid", USER)], True, "delete everything of a user"),
    _c("APPLY LOCAL_UNUSER", [Arg("userid", USER)], True,
       "delete a user, not replicated further"),
    _kv("APPLY FORCE", (), True, "force mode for this server process (%())"),
    _c("APPLY CAPABILITIES", [Arg("(capability …)", LIST, example="(SIEVE-MAILBOX)")], False,
       "enable capabilities (SIEVE-MAILBOX)", "dlist"),
    _kv("RESTORE MAILBOX", _MAILBOX_KEYS, True, "restore a mailbox (backup tools)"),
    _kv("RESTORE LOCAL_MAILBOX", _MAILBOX_KEYS, True, "restore, not replicated further"),
    _c("GET", [Arg("subtype", ASTRING, form="a sub-command word (\\help GET SUBTYPE)",
                       example="USER"),
              Arg("argument", ASTRING, form="the sub-command's argument",
                  example="carol")], False,
       "read state (USER META MAILBOXES UNIQUEIDS FULLMAILBOX QUOTA ANNOTATION FETCH …)",
       "dlist"),
    _c("APPLY", [Arg("subtype", ASTRING, form="a sub-command word (\\help APPLY SUBTYPE)",
                       example="SUB"),
              Arg("argument", ASTRING, form="the sub-command's argument",
                  example="%(USERID carol MBOXNAME user.carol.Sent)")], True, "change state"),
    _c("RESTORE", [Arg("subtype", ASTRING, form="a sub-command word (\\help RESTORE SUBTYPE)",
                       example="MAILBOX"),
              Arg("argument", ASTRING, form="the sub-command's argument",
                  example="%(UNIQUEID ixdqeyi1gzemooftrdyuw66b MBOXNAME user.carol.Sent …)")],
       True, "restore a mailbox"),
    _c("NOOP", [], False, "do nothing"),
    _c("RESTART", [], False, "discard staged message files"),
    _c("EXIT", [], False, "end the session"),
    _c("COMPRESS", [Arg("algorithm", ASTRING, form="the one Cyrus knows", example="DEFLATE")], False, "COMPRESS DEFLATE"),
    _c("STARTTLS", [], False, "start TLS"),
    _c("AUTHENTICATE", [Arg("mechanism", MECH),
                        Arg("initial-response", ASTRING, optional=True, secret=True,
                            form="the SASL initial response in base64, = when empty "
                                 "(never recorded)", example="=")],
       False, "SASL login", sensitive=True),
]}

TABLES = {"seed": LEGACY, "2005": LEGACY, "csync": CSYNC}


def table_for(dialect: str | None) -> dict[str, CommandSpec]:
    return TABLES.get(dialect or "seed", LEGACY)


# IMAP's LOGIN is no replication command, but typed here by habit its words are a password
_SECRET_NOT_A_COMMAND = {"LOGIN": 0}


def words_before_secret(verb: str) -> int | None:
    """How many of a line's words after ``verb`` may be shown, or None when the line holds
    no secret.  The tables' ``sensitive`` column decides, every dialect's at once: a secret
    typed to a server of the other dialect (which will answer BAD) is a secret still."""
    verb = verb.upper()
    if verb in _SECRET_NOT_A_COMMAND:
        return _SECRET_NOT_A_COMMAND[verb]
    for table in (LEGACY, CSYNC):
        spec = table.get(verb)
        if spec is not None and spec.sensitive:
            return next((i for i, arg in enumerate(spec.args) if arg.secret), len(spec.args))
    return None


def lookup(table: dict[str, CommandSpec], text: str) -> CommandSpec | None:
    """The row for a command line (or its first words): two-word names first."""
    words = text.split()
    if len(words) >= 2:
        spec = table.get(f"{words[0]} {words[1]}".upper())
        if spec is not None:
            return spec
    return table.get(words[0].upper()) if words else None


def did_you_mean(table: dict[str, CommandSpec], line: str) -> str | None:
    """For a line whose command word the table does not know, the closest command (in the
    user's case), or None: ``selct`` -> ``select``."""
    import difflib
    word = command_word(line)
    if not word or lookup(table, line) is not None:
        return None
    firsts = list(dict.fromkeys(name.split(" ", 1)[0] for name in table))
    close = difflib.get_close_matches(word.upper(), firsts, n=1, cutoff=0.75)
    if not close:
        return None
    return close[0] if word.isupper() else close[0].lower()


def command_word(line: str) -> str:
    return line.strip().split(" ", 1)[0].split("\t", 1)[0]


def command_name(table: dict[str, CommandSpec], line: str) -> str:
    spec = lookup(table, line)
    return spec.name if spec is not None else command_word(line).upper()


def is_write(table: dict[str, CommandSpec], line: str) -> bool:
    """Whether a command line would change the replica.  A command the table does not know
    counts as a write: the guard rail never lets an unknown through by surprise."""
    if not command_word(line):
        return False
    spec = lookup(table, line)
    return True if spec is None else spec.write


def _scan(text: str):
    """Each character with the list depth and quoting in force before it: the one reading
    of quotes (with backslash escapes) and parentheses that the checks below share."""
    depth = 0
    quoted = False
    escaped = False
    for ch in text:
        yield ch, depth, quoted
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
    yield "", depth, quoted


def unbalanced(line: str) -> str | None:
    """What is left open at the end of a line (a quote or a parenthesis), or None.

    The server would read the next line into an open list or quote, so such a line is
    never sent as it stands."""
    for ch, depth, quoted in _scan(line):
        if not quoted and ch == ")" and depth <= 0:
            return "a ')' closes nothing"
        if ch == "":
            return "an open quote" if quoted else "an open '('" if depth else None
    return None


def join_continued(pending: str, text: str) -> str:
    """A line left open (unbalanced) joined with the next one as the user meant it: the line
    break stands for one space between items, none just inside a list's parentheses
    (``(hello world`` then ``)`` is ``(hello world)``)."""
    head, tail = pending.rstrip(), text.strip()
    if not tail or not head or head.endswith("(") or tail.startswith(")"):
        return head + tail
    return f"{head} {tail}"


def count_args(line: str, skip: int = 1) -> int:
    """Top-level arguments after the command's `skip` words (a list counts as one)."""
    parts = line.strip().split(" ", skip)
    count = 0
    in_word = False
    for ch, depth, quoted in _scan(parts[skip] if len(parts) > skip else ""):
        if quoted or ch == "":
            continue
        if ch == " " and depth == 0:
            in_word = False
        elif not in_word and depth == 0:
            count += 1
            in_word = True
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
    spec = lookup(table, line)
    if spec is None:
        return None
    if count_args(line, len(spec.name.split())) < spec.required_args:
        return f"missing argument; syntax: {spec.syntax}"
    return None
