"""The console's one-shot mode: the -c, -f and piped lines, every one checked (grammar
and guard rail) before any is sent, then sent in order."""

from __future__ import annotations

from syncsh.errors import UsageError
from syncsh.status import ExitStatus
from syncsh.targets import expected_dialect


def run_one_shot(target, args, script: list[str], env) -> ExitStatus:
    from syncsh import guard
    from syncsh.connect import open_session
    from syncsh.protocol import commands

    # The command table follows the dialect.  Where the target's kind tells it, every line
    # is checked before connecting; otherwise (ssh:, exec:) after the banner, still before
    # any command is sent.
    known = args.dialect or expected_dialect(target)
    if known:
        check_script(script, target, args, commands.table_for(known))
    gate = guard.Gate(target, door=guard.ONE_SHOT, read_only=args.read_only,
                      allow_writes=args.allow_writes)
    session = open_session(target, timeout=args.timeout, dialect=args.dialect,
                           on_stderr=env.warn, learn=False, gate=gate)
    renderer = None
    try:
        if session.dialect != known:
            try:
                check_script(script, target, args, session.table)
            except UsageError:
                session.closed = True        # a refused run sends nothing, not even EXIT
                raise
        from syncsh.render import make_renderer
        fmt = args.format or ("table" if env.stdout_isatty else "raw")
        renderer = make_renderer(fmt, env.stdout, color=env.color, err=env.stderr)
        return _run_lines(session, target, script, renderer, fmt, env)
    finally:
        if renderer is not None:
            renderer.flush()
        session.close()


def _run_lines(session, target, script, renderer, fmt: str, env) -> ExitStatus:
    from syncsh.private import masked
    renderer.banner(session.banner, target.text)
    session.on_wire = renderer.wire if fmt == "raw" else None
    session.wire_in_regions = True          # a listing's run written in one go
    status = ExitStatus.OK
    for line in script:
        renderer.command(masked(line))           # a typed AUTHENTICATE/LOGIN: masked
        if line.startswith("\\upload "):
            ok = _upload(session, line, fmt, env)
        else:
            ok = _send(session, line, renderer)
        if not ok:
            status = ExitStatus.FAILED
        renderer.flush()
        if session.closed:
            break
    return status


def _send(session, line: str, renderer) -> bool:
    """One command and its reply; False on NO/BAD or a CRC the server's records deny."""
    from syncsh.protocol.crc import checked
    ok = True
    for event in checked(line, session.execute(line, batches=True)):
        renderer.event(event)
        if getattr(event, "agree", None) is False:
            ok = False        # the server's CRC is not its records'
    return ok and event.ok


def _upload(session, line: str, fmt: str, env) -> bool:
    from syncsh.upload import UploadFailed, parse_args, upload
    try:
        said = upload(session, *parse_args(line.partition(" ")[2]))
    except UploadFailed as exc:
        env.warn(f"syncsh: \\upload: {exc}")
        return False
    if fmt == "json":           # JSON lines throughout
        import json
        said = json.dumps({"type": "upload", "text": said})
    env.say(said)
    return True


def check_script(script: list[str], target, args, table) -> None:
    """Every line before any is sent: one-shot use has no one to ask, so what would need
    confirmation is refused."""
    from syncsh import guard
    from syncsh.protocol import commands
    for line in script:
        if line.startswith("\\"):
            _check_meta(line, target, args, table)
            continue
        verdict = guard.judge(table, line, target, read_only=args.read_only,
                              allow_writes=args.allow_writes)
        problem = commands.check_line(table, line) or verdict.why
        if problem:
            raise UsageError(problem if problem.startswith("refused")
                             else f"{line.split(' ', 1)[0]}: {problem}")


def _check_meta(line: str, target, args, table) -> None:
    """A meta-command line of a script: one the meta-command table says runs in scripts
    (\\upload), let through by the guard rail, its file readable: all before connecting."""
    from syncsh import guard
    from syncsh.repl.meta import names_in_scripts, runs_in_scripts
    from syncsh.protocol import commands
    from syncsh.upload import check_dialect, parse_args, read_message
    word, _, rest = line.partition(" ")
    if not runs_in_scripts(word):
        raise UsageError(f"{word}: only {', '.join(names_in_scripts())} runs in one-shot mode")
    action = guard.decide(True, target, read_only=args.read_only,
                          allow_writes=args.allow_writes)
    problem = guard.refusal(action, word, target, args.read_only)
    if problem:
        raise UsageError(problem)
    check_dialect("csync" if table is commands.CSYNC else "seed")
    read_message(parse_args(rest)[0])
