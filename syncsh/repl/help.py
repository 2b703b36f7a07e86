"""Help that teaches: the meta-command table, and help text drawn from the tables.

A protocol command's help comes from its row in syncsh.protocol.commands (its syntax,
summary, each argument's form with an example, and a whole line one could type); a
meta-command's from META_COMMANDS below, the one list of them (completion, the overview
and dispatch's usage lines read it too)."""

from __future__ import annotations

from dataclasses import dataclass

from syncsh.protocol import commands as C


@dataclass(frozen=True)
class MetaCommand:
    name: str
    usage: str                          # its arguments, as typed after the name
    summary: str
    details: tuple[str, ...] = ()       # lines of further explanation
    examples: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()       # the words its argument may be (completion offers them)

    @property
    def syntax(self) -> str:
        return f"{self.name} {self.usage}".rstrip()


META_COMMANDS = (
    MetaCommand("\\help", "[COMMAND | \\META | target]", "help: all commands, or one",
                ("COMMAND: a protocol command of the dialect spoken (GET USER for two words)",
                 "\\META: a meta-command; target: the target forms and this session"),
                ("\\help setflags", "\\help \\diff"), ("\\h", "\\?")),
    MetaCommand("\\info", "", "the target, the server's full banner and the session's state",
                ("what the toolbar leaves out at narrow widths: banner, capabilities, lock "
                 "age, selected mailbox, round trip, format, pager, trace, recording",),
                ("\\info",)),
    MetaCommand("\\connect", "TARGET", "open another target (the current session is closed)",
                ("TARGET: any target form (\\help target lists them)",),
                ("\\connect demo:cyrus-1", "\\connect ssh://cyrus@replica.example.com")),
    MetaCommand("\\reconnect", "", "open the same target again (after a dropped connection "
                "or EXIT); the lock and the selected mailbox are not taken again",
                examples=("\\reconnect",)),
    MetaCommand("\\format", "table|raw|json", "how replies are shown from now on",
                ("table: labelled, aligned; raw: the server's lines as they came; "
                 "json: one JSON object a line (docs/json.md)",), ("\\format raw",),
                choices=("table", "raw", "json")),
    MetaCommand("\\pager", "on|off|auto", "page replies taller than the window",
                ("auto (default; off with --no-pager): page a table that would not fit "
                 "the window; on: every reply, in every format, goes through the pager; "
                 "off: never page",
                 "the pager is $PAGER (less if unset; LESS=-SRXF when LESS is unset)"),
                ("\\pager off",), choices=("on", "off", "auto")),
    MetaCommand("\\trace", "on|off", "show both directions with timings, on stderr",
                examples=("\\trace on",), choices=("on", "off")),
    MetaCommand("\\history", "", "the commands run in this session (secrets masked)",
                examples=("\\history",)),
    MetaCommand("\\record", "FILE | off", "write the session as a replayable transcript",
                ("FILE: created 0600; off: stop and close it (syncsh replay FILE runs it)",),
                ("\\record /tmp/session.txt", "\\record off"), choices=("off",)),
    MetaCommand("\\upload", "FILE MAILBOX [FLAG …]",
                "add a message file to a mailbox (modern dialect; a write)",
                ("FILE: an RFC 5322 message; MAILBOX: its full name; FLAG: e.g. \\Seen",),
                ("\\upload msg.eml user.carol \\Seen",)),
    MetaCommand("\\diff", "MASTER REPLICA [OPTIONS] | PAIR | OTHER",
                "compare a master and a replica (read only; syncsh diff --help lists options)",
                ("'.' stands for this session's target; PAIR: a pair named in the config; "
                 "OTHER alone: this target's role comes from the config, else you are asked",),
                ("\\diff demo:cyrus-1 . --user dpc22", "\\diff demo:cyrus-1 --user dpc22")),
    MetaCommand("\\quit", "", "leave (Ctrl-D too)", aliases=("\\q", "\\exit")),
)

META = [(m.name, m.summary) for m in META_COMMANDS]      # for completion


def find_meta(word: str) -> MetaCommand | None:
    for meta in META_COMMANDS:
        if word == meta.name or word in meta.aliases:
            return meta
    return None


def usage(word: str) -> str:
    """The one-line usage of a meta-command, for its error messages."""
    meta = find_meta(word)
    return meta.syntax if meta is not None else word


def command_help(spec: C.CommandSpec, modern: bool) -> list[str]:
    """A protocol command's help: syntax, summary, what it needs, each argument's form with
    an example, and a line to type."""
    kind = "writes to the replica" if spec.write else "reads only"
    needs = {"U": "a current user", "M": "a selected mailbox",
             "UM": "a current user and a selected mailbox"}.get(spec.needs)
    lines = [spec.syntax, f"  {spec.summary}",
             f"  {kind}" + (f"; needs {needs}" if needs else "")]
    if spec.args:
        lines.append("  arguments:")
        width = max(len(arg.name) for arg in spec.args)
        for arg in spec.args:
            form, example = arg.described(modern)
            if arg.kind == C.KVLIST and not arg.example:
                example = spec.example(modern).split(" %(", 1)[-1]
                example = "%(" + example if spec.keys else "%()"
            elif example in ("(…)", "%(…)"):
                example = ""                # no line to show: the form says it all
            more = "; optional" if arg.optional else ""
            more += "; one or more" if arg.repeat and not arg.optional else ""
            lines.append(f"    {arg.name:<{width}}  {form}{more}"
                         + (f"  e.g. {example}" if example else ""))
            if arg.kind == C.ITEM:
                lines += [f"    {'':<{width}}    {form_text}" for _, form_text in C.ITEM_FORMS]
            if arg.kind == C.KVLIST and spec.keys:
                lines.append(f"    {'':<{width}}    keys: {' '.join(spec.keys)}")
    if any(arg.kind == C.LITERAL for arg in spec.args):
        lines.append("  (a literal cannot be typed at the prompt: replay a transcript instead)")
    lines.append(f"  example: {spec.example(modern)}")
    return lines


def meta_help(meta: MetaCommand) -> list[str]:
    lines = [meta.syntax, f"  {meta.summary}"]
    if meta.aliases:
        lines.append(f"  also: {' '.join(meta.aliases)}")
    lines += [f"  {line}" for line in meta.details]
    lines += [f"  example: {example}" for example in meta.examples]
    return lines


def overview(table: dict[str, C.CommandSpec]) -> list[str]:
    width = max(max(len(n) for n in table), max(len(m.name) for m in META_COMMANDS))
    lines = [f"  {name:<{width}} {'w' if spec.write else ' '} {spec.summary}"
             for name, spec in table.items()]
    lines.append("\n  w = writes to the replica.  \\help COMMAND for its arguments and an "
                 "example.  Meta-commands:")
    lines += [f"  {meta.name:<{width}}   {meta.summary}" for meta in META_COMMANDS]
    return lines


def topic_help(table: dict[str, C.CommandSpec], topic: str) -> list[str] | None:
    """Help on one topic: a protocol command, a meta-command (with or without its
    backslash when no command has the name); None when there is none."""
    modern = table is C.CSYNC
    if topic.startswith("\\"):
        meta = find_meta(topic)
        return meta_help(meta) if meta is not None else None
    if topic.lower() == "target":
        return None                 # the caller adds this session's state to the forms
    spec = C.lookup(table, topic)
    if spec is not None:
        subs = [name for name in table if name.startswith(spec.name + " ")]
        if subs and len(topic.split()) > 1:
            return None             # GET BOGUS: no such sub-command
        lines = command_help(spec, modern)
        if subs:
            lines.append(f"  sub-commands: {', '.join(n.split(' ', 1)[1] for n in subs)}")
        return lines
    meta = find_meta("\\" + topic)
    return meta_help(meta) if meta is not None else None


def target_forms() -> list[str]:
    from syncsh.targets import FORMS
    width = max(len(form) for form, _ in FORMS)
    return ["targets:"] + [f"  {form:<{width}}  {meaning}" for form, meaning in FORMS]


def session_info(console) -> list[str]:
    """\\info: the target, the full banner and the session's state (the toolbar's long
    form), of a Console."""
    import time
    from syncsh.printable import printable
    s, args, target = console.session, console.args, console.target
    guard = "read-only" if args.read_only else "writes allowed" \
        if args.allow_writes or target.is_demo else "writes asked for"
    lines = [f"target      {printable(target.text)}  ({target.scheme}; {guard})"]
    if s is None:
        return lines + ["session     not connected (\\connect TARGET)"]
    banner = s.banner
    if banner is not None:
        lines.append(f"banner      {printable(banner.text)}")
        lines.append(f"dialect     {s.dialect or banner.dialect}"
                     + (f"  version {printable(banner.version)}" if banner.version else ""))
        if banner.capabilities:
            lines.append("capability  " + "  ".join(printable(c) for c in banner.capabilities))
    lines.append("session     " + ("closed (\\reconnect opens it again)" if s.closed
                                   else "open"))
    if s.user:
        held = time.monotonic() - (s.user_since or time.monotonic())
        lines.append(f"lock        {printable(s.user)} (held {held:.0f}s; ENDUSER releases it)")
    else:
        lines.append("lock        none")
    lines.append(f"selected    {printable(s.selected) if s.selected else 'none'}")
    if s.last_rtt is not None:
        lines.append(f"round trip  {s.last_rtt * 1000:.1f} ms (last command)")
    lines.append(f"format      {console.fmt}   pager {console.pager}   trace "
                 f"{'on' if console.trace else 'off'}")
    if console.recorder is not None:
        lines.append(f"recording   {console.recorder.path}")
    return lines
