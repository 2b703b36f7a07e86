"""The ``syncsh`` command line.

    syncsh [options] [TARGET] [-c COMMAND]… [-f FILE]…     one-shot, or the REPL
    syncsh server --store DIR [-v [-v]]                      the reference sync_server
    syncsh demo init DIR | demo reset | demo path             the demo pair
    syncsh replicate --master STORE -s TARGET …               repair a replica

Exit status: 0 every reply OK, 1 a NO or BAD, 2 a connection or usage error, always
with one line on stderr and no traceback (unless --debug).
"""

from __future__ import annotations

import argparse
import os
import sys

from syncsh import __version__
from syncsh.argparsing import Parser, positive_seconds, seconds
from syncsh.errors import SyncshError, UsageError, internal_error_line
from syncsh.frontend.options import (Ordered, add_client_options, target_forms_help,
                                     target_options)
from syncsh.frontend.status import ExitStatus
from syncsh.targets import expected_dialect

DEFAULT_TARGET = "demo:cyrus-2"


def client_parser() -> argparse.ArgumentParser:
    p = Parser(prog="syncsh", description="A console for the Cyrus IMAP replication protocol.",
                formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog=target_forms_help() + "\n\nOther commands (each with --help):\n"
                       "  syncsh server | demo | replicate | replay | record | diff | tap")
    p.add_argument("--version", action="version", version=f"syncsh {__version__}")
    p.add_argument("target", nargs="?", help="where to connect: one of the target forms below "
                                             f"(default {DEFAULT_TARGET})")
    p.add_argument("-c", dest="c", action=Ordered, metavar="COMMAND",
                   help="run COMMAND (repeatable; runs all in order, then exits)")
    p.add_argument("-f", dest="f", action=Ordered, metavar="FILE",
                   help="run the commands in FILE, one a line ('-' for stdin)")
    add_client_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # history, audit log, recordings, stores, known_hosts: whatever syncsh creates holds
    # what was typed or what a server holds, and is its owner's only
    os.umask(os.umask(0o077) | 0o077)
    debug = "--debug" in argv
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return SUBCOMMANDS[argv[0]](argv[1:])
        return run_client(argv)
    except SyncshError as exc:
        # --debug adds the traceback, never changes the outcome's exit status
        _traceback_if(debug)
        from syncsh.printable import printable      # (errors may quote the server)
        print(f"syncsh: {printable(str(exc))}", file=sys.stderr)
        return ExitStatus.ERROR
    except KeyboardInterrupt:
        print("syncsh: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _quiet_broken_pipe()
        return ExitStatus.OK
    except Exception as exc:            # a bug of ours: still one line (--debug: and where)
        _traceback_if(debug)
        print(internal_error_line(exc, debug), file=sys.stderr)
        return ExitStatus.ERROR


def _traceback_if(debug: bool) -> None:
    if debug:
        import traceback
        traceback.print_exc()


def _quiet_broken_pipe() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


# --------------------------------------------------------------------------- client

def read_script(items) -> list[str]:
    lines = []
    for kind, value in items or []:
        if kind == "c":
            lines.append(value)
            continue
        try:
            if value == "-":
                text = sys.stdin.read()
            else:
                with open(value, encoding="utf-8", errors="surrogateescape") as handle:
                    text = handle.read()
        except OSError as exc:
            raise UsageError(f"cannot read {value}: {exc.strerror}") from None
        # each line trimmed as the REPL trims what is typed (` NOOP` is NOOP)
        lines += [line.strip() for line in text.split("\n")
                  if line.strip() and not line.lstrip().startswith("#")]
    return lines


def run_client(argv: list[str]) -> int:
    args = client_parser().parse_args(argv)
    from syncsh.targets import parse_target
    items = getattr(args, "script", None)
    if not items and sys.stdin is None:
        raise UsageError("standard input is closed: give commands with -c COMMAND or -f FILE")
    if not items and not sys.stdin.isatty():
        items = [("f", "-")]        # commands piped in (syncsh < FILE): as -f - would run them
    script = read_script(items)
    target = parse_target(args.target or DEFAULT_TARGET,
                          options=target_options(args, interactive=not items))
    if not items:
        from syncsh.repl.loop import run_repl
        return run_repl(target, args)
    return run_one_shot(target, args, script)


def guard_refusal(line: str, target, args, table) -> str | None:
    """Why the guard rail stops this command in one-shot use, or None (one-shot use has
    no one to ask: what needs confirmation is refused)."""
    from syncsh import guard
    verdict = guard.judge(table, line, target, read_only=args.read_only,
                          allow_writes=args.allow_writes)
    return verdict.why or None


def refusal(write: bool, name: str, target, args) -> str | None:
    from syncsh import guard
    action = guard.decide(write, target, read_only=args.read_only,
                          allow_writes=args.allow_writes)
    return guard.refusal(action, name, target, args.read_only) or None


def one_shot_gate(target, args):
    from syncsh import guard
    return guard.Gate(target, door=guard.ONE_SHOT, read_only=args.read_only,
                      allow_writes=args.allow_writes)


def run_one_shot(target, args, script: list[str]) -> int:
    from syncsh.connect import open_session
    from syncsh.protocol import commands
    from syncsh.render import make_renderer

    # The command table follows the dialect.  Where the target's kind tells it, every line
    # is checked before connecting; otherwise (ssh:, exec:) after the banner, still before
    # any command is sent.
    known = args.dialect or expected_dialect(target)
    if known:
        check_script(script, target, args, commands.table_for(known))
    fmt = args.format or ("table" if sys.stdout.isatty() else "raw")
    renderer = make_renderer(fmt, sys.stdout, color=False if args.no_color else None)
    status = ExitStatus.OK
    session = open_session(target, timeout=args.timeout, dialect=args.dialect,
                           on_stderr=_stderr_relay, learn=False, gate=one_shot_gate(target, args))
    try:
        if session.dialect != known:
            try:
                check_script(script, target, args, session.table)
            except UsageError:
                session.closed = True        # a refused run sends nothing, not even EXIT
                raise
        renderer.banner(session.banner, target.text)
        session.on_wire = renderer.wire if fmt == "raw" else None
        session.wire_in_regions = True          # a listing's run written in one go
        from syncsh.private import masked
        for line in script:
            renderer.command(masked(line))           # a typed AUTHENTICATE/LOGIN: masked
            if line.startswith("\\upload "):
                from syncsh.upload import UploadFailed, parse_args, upload
                try:
                    said = upload(session, *parse_args(line.partition(" ")[2]))
                    if fmt == "json":           # JSON lines throughout
                        import json
                        said = json.dumps({"type": "upload", "text": said})
                    print(said)
                except UploadFailed as exc:
                    from syncsh.printable import printable
                    print(f"syncsh: \\upload: {printable(str(exc))}", file=sys.stderr)
                    status = ExitStatus.FAILED
                continue
            from syncsh.protocol.crc import checked
            for event in checked(line, session.execute(line, batches=True)):
                renderer.event(event)
                if getattr(event, "agree", None) is False:
                    status = ExitStatus.FAILED        # the server's CRC is not its records'
            if not event.ok:
                status = ExitStatus.FAILED
            renderer.flush()
            if session.closed:
                break
    finally:
        renderer.flush()
        session.close()
    return status


def check_script(script: list[str], target, args, table) -> None:
    from syncsh.protocol import commands
    for line in script:
        if line.startswith("\\"):
            if not line.startswith("\\upload "):
                raise UsageError(f"{line.split(' ', 1)[0]}: only \\upload runs in one-shot mode")
            problem = refusal(True, "\\upload", target, args)
            if problem:
                raise UsageError(problem)
            continue
        problem = commands.check_line(table, line) or guard_refusal(line, target, args, table)
        if problem:
            raise UsageError(problem if problem.startswith("refused")
                             else f"{line.split(' ', 1)[0]}: {problem}")


def _stderr_relay(line: str) -> None:
    from syncsh.printable import printable
    sys.stderr.write(printable(line) + "\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- server, demo

def cmd_server(argv: list[str]) -> int:
    p = Parser(prog="syncsh server",
                description="The reference sync_server of the documented dialect, on stdin/stdout.")
    p.add_argument("--store", required=True, metavar="DIR", help="the mailstore (created if absent)")
    p.add_argument("-v", dest="verbosity", action="count", default=0,
                   help="-v -v: trace each command on stderr")
    p.add_argument("--dialect", choices=("seed", "2005"), default="seed",
                   help="the greeting and replies of this dialect (default seed)")
    p.add_argument("--lock-timeout", type=seconds, default=10.0, metavar="SECONDS",
                   help="how long a session waits for a user lock before NO (default 10)")
    p.add_argument("--idle-timeout", type=positive_seconds, default=1800.0, metavar="SECONDS",
                   help="close a connection idle this long (default 1800)")
    args = p.parse_args(argv)
    from syncsh.server.main import serve
    try:
        return serve(args.store, verbosity=args.verbosity, dialect=args.dialect,
                     idle_timeout=args.idle_timeout, lock_timeout=args.lock_timeout)
    except OSError as exc:
        raise UsageError(f"cannot open store {args.store}: {exc.strerror or exc}") from None


def cmd_demo(argv: list[str]) -> int:
    p = Parser(prog="syncsh demo", description="The demo pair of the Replication Examples.")
    sub = p.add_subparsers(dest="action", required=True)
    init = sub.add_parser("init", help="create DIR/cyrus-1 (master) and DIR/cyrus-2 (replica)")
    init.add_argument("directory", help="where to create the pair")
    init.add_argument("--force", action="store_true",
                      help="re-create stores that are there already (what they hold is lost)")
    sub.add_parser("reset", help="restore the pair that demo: targets open")
    sub.add_parser("path", help="where the demo: pair lives")
    args = p.parse_args(argv)
    from syncsh import demo
    if args.action == "init":
        there = [name for name in demo.NAMES
                 if os.path.exists(os.path.join(args.directory, name))]
        if there and not args.force:
            raise UsageError(f"{args.directory} holds {' and '.join(there)} already: "
                             "demo init --force re-creates them (what they hold is lost)")
        for path in demo.init(args.directory):
            print(path)
    elif args.action == "reset":
        print(demo.init(demo.pair_dir())[0].rsplit(os.sep, 1)[0])
    else:
        print(demo.pair_dir())
    return ExitStatus.OK


def cmd_replicate(argv: list[str]) -> int:
    from syncsh.replica.cli import run
    return run(argv)


def cmd_replay(argv: list[str]) -> int:
    from syncsh.transcript.cli import run_replay
    return run_replay(argv)


def cmd_record(argv: list[str]) -> int:
    from syncsh.transcript.cli import run_record
    return run_record(argv)


def cmd_diff(argv: list[str]) -> int:
    from syncsh.diff.cli import run
    return run(argv)


def cmd_tap(argv: list[str]) -> int:
    from syncsh.tap.cli import run
    return run(argv)


SUBCOMMANDS = {"diff": cmd_diff, "server": cmd_server, "demo": cmd_demo, "replicate": cmd_replicate,
               "replay": cmd_replay, "record": cmd_record, "tap": cmd_tap}
