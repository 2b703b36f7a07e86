"""Before a transcript runs: is it allowed to go where it says, and to send what it holds?

A transcript is data: its %host lines take effect beyond demo: only when the user
confirms them, and everything it would send is judged by the guard rail before anything
is sent, so that a refused replay sends nothing at all."""

from __future__ import annotations

import os

from syncsh import guard
from syncsh.errors import SyncshError
from syncsh.protocol import commands
from syncsh.transcript.parse import Step, Transcript, TranscriptError, parse
from syncsh.transcript.shell import DEMO_NAMES, Unreplayable, parser_args, ssh_host

def refusal_text(action: str, name: str, target, read_only: bool) -> str:
    return guard.refusal(action, name, target, read_only, guard.REPLAY)


def host_reach(text: str) -> str | None:
    """What a %host target would do that reading a transcript must not: None for demo:."""
    if text.startswith("demo:"):
        return None
    if text.startswith("exec:"):
        return "runs a command"
    if text.startswith("cyrus:"):
        return "runs Cyrus' sync_server"
    if text.startswith(("ssh://", "csync://")):
        return "reaches a network host"
    if text.startswith("unix:"):
        return "opens a local socket"
    return "names a target of the config"


def untrusted_host(replayer, transcript: Transcript, host: str) -> str | None:
    """Why the transcript's own %host line for host may not be used, or None: a transcript
    names hosts, only the user says where they go (--host, or --trust-hosts)."""
    text = transcript.hosts.get(host)
    if text is None or host in replayer.host_overrides or replayer.trust_hosts:
        return None
    reach = host_reach(text)
    if reach is None:
        return None
    number = transcript.host_lines.get(host, 0)
    return (f"{transcript.path}:{number}: %host {host} = {text} {reach}; a transcript does "
            f"not choose where it goes: --host {host}=TARGET, or --trust-hosts")


def preflight(replayer, transcript: Transcript, directory: str, make_run,
              depth: int = 0) -> None:
    """Refuse a transcript whose %host lines the user has not confirmed, or that would send
    a write the guard rail does not let through, before it sends anything.  Steps that
    cannot be replayed for other reasons are left to say so when they come."""
    for host in transcript.hosts:
        problem = untrusted_host(replayer, transcript, host)
        if problem:
            raise Unreplayable(problem)
    for number, args in transcript.setup:
        if args[0] == "replay" and depth < 8:
            path = os.path.join(directory, args[1])
            try:
                inner = parse(path)
            except TranscriptError:
                continue                        # said when the setup runs
            preflight(replayer, inner, os.path.dirname(path), make_run, depth + 1)
    run = make_run(replayer, transcript, private_dir="")   # resolves targets, opens nothing
    targets: dict[str, object] = {}                       # each session's, by name
    for step in transcript.steps:
        try:
            if step.is_shell:
                targets[step.session] = _preflight_shell(run, step)
                continue
        except (Unreplayable, TranscriptError):
            targets[step.session] = None
            continue
        if targets.get(step.session) is not None:
            _preflight_line(replayer, transcript, targets[step.session], step)


def _preflight_shell(run, step: Step):
    """The target a shell step connects to (None: it connects nowhere known)."""
    argv = step.shell
    if argv and argv[0] == "ssh":
        return _resolve(run, ssh_host(argv))
    if argv and argv[0] in ("replicate", "syncsh") and "replicate" in argv[:2]:
        from syncsh.replica.request import parser
        args = parser_args(parser(), argv[argv.index("replicate") + 1:] + ["--master", "-"])
        target = _resolve(run, args.target)
        action = guard.decide(True, target, read_only=run.r.read_only,
                              allow_writes=run.r.allow_writes)
        if target is not None and action != guard.SEND:
            raise _Refused(f"{run.t.path}:{step.command.number}: "
                           + refusal_text(action, "replicate", target, run.r.read_only))
    return None


class _Refused(SyncshError):
    pass


def _resolve(run, host: str):
    """The target a host name stands for, without building a demo pair for it."""
    if host not in run.r.host_overrides and (run.t.hosts.get(host) or "demo:").startswith("demo:") \
            and (host in run.t.hosts or host in DEMO_NAMES):
        from syncsh.targets import Target
        return Target(run.t.hosts.get(host) or f"demo:{host}", "demo")
    return run.target_for(host)


def _preflight_line(replayer, transcript: Transcript, target, step: Step) -> None:
    from syncsh.targets import expected_dialect
    dialect = expected_dialect(target)
    tables = [commands.table_for(dialect)] if dialect else \
        [commands.LEGACY, commands.CSYNC]
    verdicts = [guard.judge(table, step.command.text, target, read_only=replayer.read_only,
                            allow_writes=replayer.allow_writes) for table in tables]
    # before the banner names the dialect: refused when no dialect would let it through
    if all(v.action != guard.SEND for v in verdicts):
        first = next((v for v in verdicts if v.known), verdicts[0])
        raise Unreplayable(f"{transcript.path}:{step.command.number}: " + refusal_text(
            first.action, first.name, target, replayer.read_only))
