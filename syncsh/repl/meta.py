"""The console's meta-commands (\\help, \\connect, \\format, \\diff …): one table, one entry
a meta-command (its name, aliases, syntax, help, handler, and whether it runs in -c/-f
scripts), which drives dispatch, help and completion alike; nothing else lists them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from syncsh.errors import UsageError


class Quit(Exception):
    """\\quit: the console ends (as Ctrl-D ends it)."""


@dataclass(frozen=True)
class Call:
    """One meta-command as typed: its entry, its arguments, and the question to ask when
    it writes."""
    meta: "MetaCommand"
    word: str                           # as typed (an alias, maybe)
    rest: str                           # its arguments, trimmed
    confirm: Callable[[str], bool]

    def usage_error(self, note: str = "") -> UsageError:
        return UsageError(self.meta.syntax + note)


@dataclass(frozen=True)
class MetaCommand:
    name: str
    usage: str                          # its arguments, as typed after the name ("": none)
    summary: str
    handler: Callable[[object, Call], None]     # (console, call)
    details: tuple[str, ...] = ()       # lines of further explanation
    examples: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()       # the words its argument may be (completion offers them)
    topics: bool = False                # its argument is a help topic (completion offers them)
    in_scripts: bool = False            # it runs in -c/-f scripts too (one-shot use)

    @property
    def syntax(self) -> str:
        return f"{self.name} {self.usage}".rstrip()

    @property
    def takes_arguments(self) -> bool:
        return bool(self.usage)

    def matches(self, word: str) -> bool:
        return word == self.name or word in self.aliases


# ---------------------------------------------------------------------------- handlers

def _help(console, call: Call) -> None:
    from syncsh.repl.help import help_lines
    lines, problem = help_lines(console, call.rest, META_COMMANDS)
    if problem:
        console.warn(problem)
    else:
        console.say("\n".join(lines))


def _info(console, call: Call) -> None:
    from syncsh.repl.help import session_info
    console.say("\n".join(session_info(console)))


def _connect(console, call: Call) -> None:
    if not call.rest:
        raise call.usage_error()
    _open(console, call.rest)


def _reconnect(console, call: Call) -> None:
    _open(console, console.target.text)


def _open(console, text: str) -> None:
    """A session on the target written `text` (the same target object when it is this
    one's), replacing the current one; what that gives up is said."""
    from syncsh.targets import parse_target
    lost = describe_loss(console)
    console.stop_recording()
    console.connect(console.target if text == console.target.text
                    else parse_target(text, options=console.target.options))
    if lost:
        console.warn(lost)


def describe_loss(console) -> str:
    """What a new connection leaves behind: a dropped session's state, or what ending a
    live one gives up (its EXIT releases the lock and the staged messages)."""
    s = console.session
    if s is None:
        return ""
    lost = []
    if s.user:
        lost.append(f"the lock on {s.user}")
    if s.selected:
        lost.append(f"the selected mailbox {s.selected}")
    head = "reconnected; lost" if s.closed else "the previous session ended; given up"
    if not lost:
        return "reconnected; any staged messages were lost" if s.closed else ""
    return f"{head}: " + ", ".join(lost) + " (and any staged messages)"


def _format(console, call: Call) -> None:
    if call.rest not in call.meta.choices:
        raise call.usage_error(f" (now {console.fmt})" if not call.rest else "")
    console.warn(f"format {call.rest}" + (" (was the same)" if call.rest == console.fmt
                                           else f" (was {console.fmt})"))
    console.fmt = call.rest


_PAGER_SAYS = {"on": "pager on: every reply goes through the pager",
               "off": "pager off: replies are never paged",
               "auto": "pager auto: a table taller than the window is paged"}


def _pager(console, call: Call) -> None:
    if call.rest not in call.meta.choices:
        raise call.usage_error(f" (now {console.pager})" if not call.rest else "")
    console.pager = call.rest
    console.warn(_PAGER_SAYS[call.rest])


def _trace(console, call: Call) -> None:
    if call.rest not in (*call.meta.choices, ""):
        raise call.usage_error()
    console.trace = call.rest != "off"
    console.warn(f"trace {'on' if console.trace else 'off'}")


def _history(console, call: Call) -> None:
    for number, command in enumerate(console.commands_run, 1):
        console.say(f"{number:4}  {command}")


def _record(console, call: Call) -> None:
    if not call.rest:
        raise call.usage_error()
    if call.rest == "off":
        console.stop_recording()
    else:
        console.start_recording(call.rest)


def _upload(console, call: Call) -> None:
    console.upload(call.rest, call.confirm)


def _diff(console, call: Call) -> None:
    from syncsh.repl.diff_command import run_diff
    run_diff(console, call)


def _quit(console, call: Call) -> None:
    raise Quit


# ---------------------------------------------------------------------------- the table

META_COMMANDS = (
    MetaCommand("\\help", "[COMMAND | \\META | target]", "help: all commands, or one", _help,
                ("COMMAND: a protocol command of the dialect spoken (GET USER for two words)",
                 "\\META: a meta-command; target: the target forms and this session"),
                ("\\help setflags", "\\help \\diff"), ("\\h", "\\?"), topics=True),
    MetaCommand("\\info", "", "the target, the server's full banner and the session's state",
                _info,
                ("what the toolbar leaves out at narrow widths: banner, capabilities, lock "
                 "age, selected mailbox, round trip, format, pager, trace, recording",),
                ("\\info",)),
    MetaCommand("\\connect", "TARGET", "open another target (the current session is closed)",
                _connect, ("TARGET: any target form (\\help target lists them)",),
                ("\\connect demo:cyrus-1", "\\connect ssh://cyrus@replica.example.com")),
    MetaCommand("\\reconnect", "", "open the same target again (after a dropped connection "
                "or EXIT); the lock and the selected mailbox are not taken again", _reconnect,
                examples=("\\reconnect",)),
    MetaCommand("\\format", "table|raw|json", "how replies are shown from now on", _format,
                ("table: labelled, aligned; raw: the server's lines as they came; "
                 "json: one JSON object a line (docs/json.md)",), ("\\format raw",),
                choices=("table", "raw", "json")),
    MetaCommand("\\pager", "on|off|auto", "page replies taller than the window", _pager,
                ("auto (default; off with --no-pager): page a table that would not fit "
                 "the window; on: every reply, in every format, goes through the pager; "
                 "off: never page",
                 "the pager is $PAGER (less if unset; LESS=-SRXF when LESS is unset)"),
                ("\\pager off",), choices=("on", "off", "auto")),
    MetaCommand("\\trace", "on|off", "show both directions with timings, on stderr", _trace,
                examples=("\\trace on",), choices=("on", "off")),
    MetaCommand("\\history", "", "the commands run in this session (secrets masked)",
                _history, examples=("\\history",)),
    MetaCommand("\\record", "FILE | off", "write the session as a replayable transcript",
                _record,
                ("FILE: created 0600; off: stop and close it (syncsh replay FILE runs it)",),
                ("\\record /tmp/session.txt", "\\record off"), choices=("off",)),
    MetaCommand("\\upload", "FILE MAILBOX [FLAG …]",
                "add a message file to a mailbox (modern dialect; a write)", _upload,
                ("FILE: an RFC 5322 message; MAILBOX: its full name; FLAG: e.g. \\Seen",
                 "runs in -c/-f scripts too"),
                ("\\upload msg.eml user.carol \\Seen",), in_scripts=True),
    MetaCommand("\\diff", "MASTER REPLICA [OPTIONS] | PAIR | OTHER",
                "compare a master and a replica (read only; syncsh diff --help lists options)",
                _diff,
                ("'.' stands for this session's target; PAIR: a pair named in the config; "
                 "OTHER alone: this target's role comes from the config, else you are asked",),
                ("\\diff demo:cyrus-1 . --user dpc22", "\\diff demo:cyrus-1 --user dpc22")),
    MetaCommand("\\quit", "", "leave (Ctrl-D too)", _quit, aliases=("\\q", "\\exit")),
)


def find_meta(word: str) -> MetaCommand | None:
    """The entry a name or an alias stands for (backslash included)."""
    return next((meta for meta in META_COMMANDS if meta.matches(word)), None)


def runs_in_scripts(word: str) -> bool:
    """Whether a meta-command (by name or alias, backslash included) runs in -c/-f
    scripts; False for one that does not exist."""
    meta = find_meta(word)
    return meta is not None and meta.in_scripts


def names_in_scripts() -> tuple[str, ...]:
    """The meta-commands that run in -c/-f scripts (for the one-shot refusal's words)."""
    return tuple(meta.name for meta in META_COMMANDS if meta.in_scripts)


def run_meta(console, line: str, confirm: Callable[[str], bool]) -> None:
    """Run a meta-command line: its handler, or a one-line error and nothing done (an
    unknown name, or arguments to one that takes none: a typo must not act)."""
    word, *rest = line.split(None, 1)
    rest = rest[0].strip() if rest else ""
    meta = find_meta(word)
    if meta is None:
        raise UsageError(_unknown(word))
    if rest and not meta.takes_arguments:
        raise UsageError(f"{word} takes no arguments; nothing done ({meta.syntax} alone)")
    meta.handler(console, Call(meta, word, rest, confirm))


def _unknown(word: str) -> str:
    import difflib
    close = difflib.get_close_matches(word, [m.name for m in META_COMMANDS], n=1, cutoff=0.6)
    return (f"unknown meta-command {word}" + (f"; did you mean {close[0]}?" if close else "")
            + "; \\help lists them")
