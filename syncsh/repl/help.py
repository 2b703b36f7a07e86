"""Help that teaches, drawn from the tables.

A protocol command's help comes from its row in syncsh.protocol.commands (its syntax,
summary, each argument's form with an example, and a whole line one could type); a
meta-command's from its entry in the meta-command table (repl/meta.py), given here."""

from __future__ import annotations

from syncsh.protocol import commands as C


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


def help_lines(console, topic: str, metas) -> tuple[list[str], str]:
    """\\help TOPIC for a Console: (the lines to show, "") or ([], why there are none)."""
    if not topic:
        return overview(console.table, metas), ""
    if topic.lower() == "target":
        return target_forms() + [""] + session_info(console), ""
    lines = topic_help(console.table, topic, metas)
    if lines is not None:
        return lines, ""
    guess = C.did_you_mean(console.table, topic)
    return [], (f"no command {topic!r} here" + (f"; did you mean {guess}?" if guess else "")
                + "; \\help lists them")


def meta_help(meta) -> list[str]:
    lines = [meta.syntax, f"  {meta.summary}"]
    if meta.aliases:
        lines.append(f"  also: {' '.join(meta.aliases)}")
    lines += [f"  {line}" for line in meta.details]
    lines += [f"  example: {example}" for example in meta.examples]
    return lines


def overview(table: dict[str, C.CommandSpec], metas) -> list[str]:
    width = max(max(len(n) for n in table), max(len(m.name) for m in metas))
    lines = [f"  {name:<{width}} {'w' if spec.write else ' '} {spec.summary}"
             for name, spec in table.items()]
    lines.append("\n  w = writes to the replica.  \\help COMMAND for its arguments and an "
                 "example.  Meta-commands:")
    lines += [f"  {meta.name:<{width}}   {meta.summary}" for meta in metas]
    return lines


def _meta_named(metas, word: str):
    return next((meta for meta in metas if meta.matches(word)), None)


def topic_help(table: dict[str, C.CommandSpec], topic: str, metas) -> list[str] | None:
    """Help on one topic: a protocol command, a meta-command (with or without its
    backslash when no command has the name); None when there is none."""
    modern = table is C.CSYNC
    if topic.startswith("\\"):
        meta = _meta_named(metas, topic)
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
    meta = _meta_named(metas, "\\" + topic)
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
