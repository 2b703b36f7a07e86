"""The console's meta-commands (\\help, \\connect, \\format, \\diff …): what each does to the
console. Their names, forms and help are the table in repl/help.py."""

from __future__ import annotations

import sys

from syncsh.errors import UsageError
from syncsh.protocol import commands as C
from syncsh.repl.help import META


def run_meta(console, line: str) -> None:
    word, _, rest = line.partition(" ")
    rest = rest.strip()
    if word in ("\\q", "\\quit", "\\exit"):
        raise EOFError
    from syncsh.repl.help import find_meta, usage
    meta = find_meta(word)
    word = meta.name if meta is not None else word
    if word == "\\help":
        show_help(console, rest)
    elif word == "\\info":
        for line in info(console):
            print(line)
    elif word in ("\\connect", "\\reconnect"):
        from syncsh.targets import parse_target
        if word == "\\reconnect":
            rest = console.target.text
        if not rest:
            raise UsageError(usage("\\connect"))
        lost = describe_loss(console)
        console.stop_recording()
        console.connect(parse_target(rest, options=console.target.options)
                     if rest != console.target.text else console.target)
        if lost:
            print(lost, file=sys.stderr)
    elif word == "\\format":
        if rest not in ("table", "raw", "json"):
            raise UsageError(usage(word) + (f" (now {console.fmt})" if not rest else ""))
        print(f"format {rest}" + (" (was the same)" if rest == console.fmt else
                                  f" (was {console.fmt})"), file=sys.stderr)
        console.fmt = rest
    elif word == "\\pager":
        if rest not in ("on", "off", "auto"):
            raise UsageError(usage(word) + (f" (now {console.pager})" if not rest else ""))
        console.pager = rest
        print({"on": "pager on: every reply goes through the pager",
               "off": "pager off: replies are never paged",
               "auto": "pager auto: a table taller than the window is paged"}[rest],
              file=sys.stderr)
    elif word == "\\trace":
        if rest not in ("on", "off", ""):
            raise UsageError(usage(word))
        console.trace = rest != "off"
        print(f"trace {'on' if console.trace else 'off'}", file=sys.stderr)
    elif word == "\\record":
        if not rest:
            raise UsageError(usage(word))
        if rest == "off":
            console.stop_recording()
        else:
            console.start_recording(rest)
    elif word == "\\diff":
        diff(console, rest)
    elif word == "\\history":
        for i, cmd in enumerate(console.commands_run, 1):
            print(f"{i:4}  {cmd}")
    else:
        import difflib
        close = difflib.get_close_matches(word, [m for m, _ in META], n=1, cutoff=0.6)
        raise UsageError(f"unknown meta-command {word}"
                         + (f"; did you mean {close[0]}?" if close else "")
                         + "; \\help lists them")

def diff(console, rest: str) -> None:
    """\\diff MASTER REPLICA ('.' is this session's target), \\diff PAIR, or \\diff OTHER:
    this target's role then comes from the config's pairs (or the demo pair), else
    the user is asked; never assumed (a reversed diff suggests overwriting the master)."""
    import shlex
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise UsageError(f"\\diff: {exc}") from None
    ends = []
    while words and not words[0].startswith("-") and len(ends) < 2:
        ends.append(console.target.text if words[0] == "." else words[0])
        words.pop(0)
    if not ends:
        from syncsh.repl.help import usage
        raise UsageError(usage("\\diff") + "  ('.' is this target; \\help \\diff)")
    if len(ends) == 1:
        given = words.index("--config") if "--config" in words[:-1] else None
        ends = diff_roles(console, ends[0], words[given + 1] if given is not None else
                               getattr(console.args, "config", None))
    held = console.session.user if console.session is not None else None
    if held and held in words:
        raise UsageError(f"this session holds the lock on {held}: ENDUSER first "
                         "(diff would wait for it)")
    config = ["--config", console.args.config] if getattr(console.args, "config", None) and \
        "--config" not in words else []
    from syncsh.diff.request import parser
    from syncsh.diff.run import run_diff
    from syncsh.environment import Environment
    status = run_diff(parser().parse_args([*ends, *words, *config]), Environment.of_process())
    print(f"(diff exit status {status})", file=sys.stderr)

def diff_roles(console, other: str, config_file: str | None) -> list[str]:
    """MASTER, REPLICA for \\diff OTHER (or [PAIR] for a configured pair's name)."""
    from syncsh import config as configuration
    here = console.target.text
    pairs = configuration.load(config_file).pairs
    if other in pairs:
        return [other]
    for pair in pairs.values():
        if {pair.master, pair.replica} == {here, other}:
            return [pair.master, pair.replica]
    from syncsh import demo
    if here.startswith("demo:") and other.startswith("demo:") and here != other:
        return [f"demo:{demo.NAMES[0]}", f"demo:{demo.NAMES[1]}"]   # the demo's own roles
    if console.ask is None:
        raise UsageError(f"which is the master? \\diff MASTER REPLICA ('.' for {here})")
    answer = console.ask(f"Is {here} the master or the replica of {other}? [m/r] ")
    answer = answer.strip().lower()
    if answer in ("m", "master"):
        return [here, other]
    if answer in ("r", "replica"):
        return [other, here]
    raise UsageError("no diff: say m or r (or \\diff MASTER REPLICA)")


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


def show_help(console, topic: str) -> None:
    from syncsh.repl import help as helps
    if not topic:
        lines = helps.overview(console.table)
    elif topic.lower() == "target":
        lines = helps.target_forms() + [""] + info(console)
    else:
        lines = helps.topic_help(console.table, topic)
        if lines is None:
            guess = C.did_you_mean(console.table, topic)
            print(f"no command {topic!r} here"
                  + (f"; did you mean {guess}?" if guess else "") + "; \\help lists them",
                  file=sys.stderr)
            return
    print("\n".join(lines))


def info(console) -> list[str]:
    from syncsh.repl.help import session_info
    return session_info(console)
