"""``syncsh replay``: transcripts replayed, every S: line checked (--lint: read only,
--update: failing steps rewritten)."""

from __future__ import annotations

from syncsh.argparsing import parse
from syncsh.errors import UsageError
from syncsh.status import ExitStatus


def parser():
    from syncsh.argparsing import Parser, positive_seconds
    p = Parser(prog="syncsh replay", description="Replay transcripts, checking every S: line.")
    p.add_argument("files", nargs="+", metavar="FILE", help="transcripts to replay, in order")
    p.add_argument("--host", action="append", metavar="NAME=TARGET",
                   help="where `$ ssh … NAME` goes (demo names get a private pair otherwise)")
    p.add_argument("--format", choices=("text", "junit"), default="text",
                   help="text (default), or JUnit XML for CI")
    p.add_argument("--update", action="store_true",
                   help="rewrite the failing steps with what came back (written lines a "
                        "matcher still accepts are kept)")
    p.add_argument("-i", "--interactive", action="store_true",
                   help="with --update: show each failing step's diff and ask before "
                        "rewriting it")
    p.add_argument("--stop-on-fail", action="store_true",
                   help="stop at the first step that fails")
    guard = p.add_mutually_exclusive_group()
    guard.add_argument("--allow-writes", action="store_true",
                       help="let writes through to non-demo targets")
    guard.add_argument("--read-only", action="store_true", help="refuse every write")
    p.add_argument("--trust-hosts", action="store_true",
                   help="let the transcripts' own %%host lines choose targets beyond demo: "
                        "(they still get no credentials)")
    p.add_argument("--lint", action="store_true", help="report transcript defects; run nothing")
    p.add_argument("--timeout", type=positive_seconds, default=30.0, metavar="SECONDS",
                   help="the longest wait for a server's next bytes (default 30)")
    p.add_argument("-v", "--verbose", action="store_true", help="list passed steps too")
    p.add_argument("--debug", action="store_true", help="tracebacks for errors")
    return p


def host_mapping(items) -> dict[str, str]:
    hosts = {}
    for item in items or []:
        name, sep, target = item.partition("=")
        if not sep or not name or not target:
            raise UsageError(f"--host {item!r}: expected NAME=TARGET")
        hosts[name] = target
    return hosts


def run(argv: list[str], env) -> ExitStatus:
    args = parse(parser(), argv, env)
    if args.lint:
        return run_lint(args.files, env)
    from syncsh.transcript.replay import Replayer
    from syncsh.transcript.report import exit_status, junit_report, text_report
    replayer = Replayer(hosts=host_mapping(args.host), allow_writes=args.allow_writes,
                        stop_on_fail=args.stop_on_fail, timeout=args.timeout,
                        trust_hosts=args.trust_hosts, read_only=args.read_only)
    results = []
    for path in args.files:
        result = replayer.run_file(path)
        results.append(result)
        if args.update and result.transcript is not None and not result.error:
            _update(path, result, env, interactive=args.interactive)
        if args.stop_on_fail and result.status != "passed":
            break
    if args.format == "junit":
        env.stdout.write(junit_report(results))
    else:
        for line in text_report(results, verbose=args.verbose):
            env.say(line)
    return exit_status(results)       # --update too: a step failed, whatever was rewritten


def _update(path: str, result, env, *, interactive: bool = False) -> None:
    from syncsh.transcript.parse import is_document
    from syncsh.transcript.replay import FAILED
    from syncsh.transcript.update import updated_text
    if not any(step.status == FAILED for step in result.steps):
        return
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        original = handle.read()
    if is_document(original):
        env.warn(f"{path}: a document is not rewritten by --update")
        return

    def accept(step) -> bool:
        """cram's -i: the step's diff, then a question on the terminal."""
        for line in step.diff:
            env.say(line)
        answer = env.ask(f"accept the new reply of line {step.step.command.number}? [y/N] ")
        return (answer or "").strip().lower() in ("y", "yes")
    text = updated_text(result, original, accept if interactive else lambda step: True)
    if text != original:
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text)


def run_lint(paths: list[str], env) -> ExitStatus:
    from syncsh.transcript.lint import is_defect, lint
    from syncsh.transcript.parse import TranscriptError, parse
    status = ExitStatus.OK
    for path in paths:
        try:
            problems = lint(parse(path))
        except TranscriptError as exc:
            env.warn(f"syncsh: {exc}")
            status = ExitStatus.ERROR
            continue
        for number, text in problems:
            env.say(f"{path}:{number}: {text}")
        if any(is_defect(text) for _, text in problems):
            status = max(status, ExitStatus.FAILED)
    return status
