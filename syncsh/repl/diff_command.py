"""\\diff from the console: which end is the master (never assumed: a reversed diff
suggests overwriting the master), then the comparison."""

from __future__ import annotations

from syncsh.errors import UsageError


def run_diff(console, call) -> None:
    """\\diff MASTER REPLICA ('.' is this session's target), \\diff PAIR, or \\diff OTHER:
    this target's role then comes from the config's pairs (or the demo pair), else
    the user is asked."""
    import shlex
    try:
        words = shlex.split(call.rest)
    except ValueError as exc:
        raise UsageError(f"\\diff: {exc}") from None
    ends = []
    while words and not words[0].startswith("-") and len(ends) < 2:
        ends.append(console.target.text if words[0] == "." else words[0])
        words.pop(0)
    if not ends:
        raise call.usage_error("  ('.' is this target; \\help \\diff)")
    if len(ends) == 1:
        given = words.index("--config") if "--config" in words[:-1] else None
        ends = diff_roles(console, ends[0], words[given + 1] if given is not None else
                          getattr(console.args, "config", None))
    config = ["--config", console.args.config] if getattr(console.args, "config", None) and \
        "--config" not in words else []
    request = _read(console, [*ends, *words, *config])
    if request is None:                 # --help: shown, and the console goes on
        return
    _refuse_the_held_user(console, request)
    from syncsh.diff.run import run_diff as compare
    status = compare(request, console.env)
    console.warn(f"(diff exit status {int(status)})")


def _read(console, argv: list[str]):
    """The request as `syncsh diff` reads it; None when it only asked for help (argparse
    ends a process there, not the console)."""
    from syncsh.argparsing import parse
    from syncsh.diff.request import parser
    try:
        return parse(parser(), argv, console.env)
    except SystemExit:
        return None


def _refuse_the_held_user(console, request) -> None:
    """A user whose lock this session holds: diff would wait for it, then fail."""
    held = console.session.user if console.session is not None else None
    if not held:
        return
    from syncsh.model import user_of_mailbox
    mailboxes_users = {user_of_mailbox(name) for name in request.mailbox}
    if held in request.user or held in mailboxes_users:
        raise UsageError(f"this session holds the lock on {held}: ENDUSER first "
                         "(diff would wait for it)")


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
