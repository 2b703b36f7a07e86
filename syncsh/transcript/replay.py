"""Replaying transcripts as scripted sessions: every S: line is checked against what really
came back.  The I/O lives here; matching is in match.py, reporting in report.py."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field

from syncsh import guard
from syncsh.errors import ConnectionLost, SyncshError
from syncsh.transcript import match
from syncsh.transcript.parse import Step, Transcript, TranscriptError, parse
from syncsh.transcript.shell import DEMO_NAMES, Unreplayable, parser_args, ssh_host

PASSED, FAILED, ERROR = "passed", "failed", "error"


@dataclass
class StepResult:
    step: Step
    status: str
    actual: list[str] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)
    message: str = ""
    captures: dict[str, str] = field(default_factory=dict)    # those known before the step


@dataclass
class FileResult:
    path: str
    steps: list[StepResult] = field(default_factory=list)
    error: str = ""
    transcript: Transcript | None = None

    @property
    def status(self) -> str:
        if self.error or any(s.status == ERROR for s in self.steps):
            return ERROR
        return FAILED if any(s.status == FAILED for s in self.steps) else PASSED


class Replayer:
    def __init__(self, *, hosts: dict[str, str] | None = None, allow_writes: bool = False,
                 stop_on_fail: bool = False, timeout: float = 30.0, trust_hosts: bool = False,
                 read_only: bool = False) -> None:
        self.host_overrides = dict(hosts or {})
        self.allow_writes = allow_writes
        self.trust_hosts = trust_hosts      # the user accepts the transcripts' own %host lines
        self.read_only = read_only
        self.stop_on_fail = stop_on_fail
        self.timeout = timeout

    # ------------------------------------------------------------------ files

    def run_file(self, path: str) -> FileResult:
        result = FileResult(path)
        try:
            transcript = parse(path)
        except TranscriptError as exc:
            result.error = str(exc)
            return result
        result.transcript = transcript
        run = _Run(self, transcript)
        try:
            # everything the transcript would send is judged before anything is: a refused
            # replay sends nothing at all
            from syncsh.transcript.preflight import preflight
            preflight(self, transcript, os.path.dirname(path), _Run)
            run.setup(os.path.dirname(path))
            for outcome in run.outcomes():
                result.steps.append(outcome)
                if outcome.status == ERROR or (outcome.status == FAILED and self.stop_on_fail):
                    break
        except SyncshError as exc:
            result.error = str(exc)
        finally:
            run.close()
        return result


class _Run:
    """One transcript's replay: its private demo pair, its connections (one a session name),
    its captures."""

    def __init__(self, replayer: Replayer, transcript: Transcript, private_dir: str | None = None):
        self.r = replayer
        self.t = transcript
        self.private = private_dir
        self.owns_private = private_dir is None
        self.connections: dict[str, tuple] = {}     # session name -> (Session, Target)
        self.heard: dict[str, list[str]] = {}       # session name -> reply lines read
        self.captures: dict[str, str] = {}
        self.depth = 0                   # how deep in %setup replay chains this run is
        # sessions that wait on each other's locks need servers that really run side by side
        self.concurrent = len(transcript.sessions) > 1 or transcript.lock_timeout is not None

    def outcomes(self):
        """Each step's result, in the order replies are checked: a step is sent at its C:
        line and checked at its first S: line, so a reply that waits on another session's
        action is read after that action. A session's reply is always read before its next
        command is sent."""
        waiting: dict[str, Step] = {}
        for step in self.t.steps:
            for other in sorted(waiting.values(), key=lambda w: w.check_at):
                if other.check_at < step.command.number or other.session == step.session:
                    del waiting[other.session]
                    yield self.finish(other)
            outcome = self.start(step)
            if outcome is not None:
                yield outcome
            elif step.check_at is None or step.check_at < step.command.number:
                yield self.finish(step)
            else:
                waiting[step.session] = step
        for other in sorted(waiting.values(), key=lambda w: w.check_at):
            yield self.finish(other)

    # ------------------------------------------------------------------ targets
    def private_pair(self) -> str:
        if self.private is None:
            from syncsh import demo
            self.private = tempfile.mkdtemp(prefix="syncsh-replay-")
            demo.init(self.private)
        return self.private

    def target_for(self, host: str):
        from syncsh.targets import TargetOptions, parse_target
        if host in self.r.host_overrides:
            return parse_target(self.r.host_overrides[host])
        text = self.t.hosts.get(host) or (f"demo:{host}" if host in DEMO_NAMES else None)
        if text is None:
            raise Unreplayable(f"no target for host {host!r} (use --host {host}=TARGET)")
        if text.startswith("demo:"):
            target = parse_target(text, demo_dir=self.private_pair())
            # a private pair: no interpreter start per step, unless sessions wait on locks
            target.in_process = not self.concurrent
            if self.t.lock_timeout is not None:
                target.argv = [*target.argv, "--lock-timeout", f"{self.t.lock_timeout:g}"]
            return target
        from syncsh.transcript.preflight import untrusted_host
        problem = untrusted_host(self.r, self.t, host)
        if problem:
            raise Unreplayable(problem)
        # a target the transcript chose is offered no credentials (password, keys, agent);
        # one of the user's own config (named) is the user's choice of where they go
        from syncsh.targets import SCHEMES
        return parse_target(text, options=TargetOptions(
            credentials=not text.startswith(SCHEMES)))

    def store_of(self, host: str) -> str:
        target = self.target_for(host)
        if target.store is None:
            raise Unreplayable(f"{host} is not a store this machine holds ({target.text})")
        return target.store

    # ------------------------------------------------------------------ setup
    def setup(self, directory: str) -> None:
        for number, args in self.t.setup:
            if args[0] == "demo":
                self.private_pair()
            elif args[0] == "replay":
                path = os.path.join(directory, args[1])
                inner_t = parse(path)
                if self.depth >= 8:
                    raise Unreplayable(f"{self.t.path}:{number}: %setup replay nested more "
                                       "than 8 deep (does it replay itself?)")
                inner = _Run(self.r, inner_t, self.private_pair())
                inner.depth = self.depth + 1
                inner.owns_private = False
                try:
                    inner.setup(os.path.dirname(path))
                    for outcome in inner.outcomes():
                        if outcome.status != PASSED:
                            raise Unreplayable(f"{self.t.path}:{number}: setup {args[1]} "
                                               f"failed at line {outcome.step.command.number}")
                finally:
                    inner.close()
            elif args[0] == "snapshot":
                from syncsh import demo
                demo.restore(os.path.join(directory, args[1]), self.private_pair())
            elif args[0] == "move-message":
                from syncsh import demo
                _, host, uid, folder = args
                demo.move_to_new_folder(self.store_of(host), int(uid), folder)

    # ------------------------------------------------------------------ steps
    def start(self, step: Step) -> StepResult | None:
        """Run a shell step, or send a protocol step's command: None when its reply is
        still to be read (finish)."""
        try:
            if step.is_shell:
                self.end_connection(step.session)
                argv = step.shell
                if not argv:
                    raise Unreplayable("an empty shell line")
                if argv[0] == "ssh":
                    actual = self.connect(step.session, ssh_host(argv), len(step.expected))
                elif argv[0] in ("replicate", "syncsh") and "replicate" in argv[:2]:
                    actual = self.replicate(argv[argv.index("replicate") + 1:])
                else:
                    raise Unreplayable(f"cannot replay the shell line `{step.command.text[1:].strip()}`")
                return self.check(step, actual)
            self.send(step)
        except SyncshError as exc:            # Unreplayable and TranscriptError among them
            return StepResult(step, ERROR, message=str(exc))
        return None

    def finish(self, step: Step) -> StepResult:
        """Read the reply of a protocol step sent earlier, and check it."""
        try:
            actual = self.receive(step.session)
        except SyncshError as exc:
            return StepResult(step, ERROR, message=str(exc))
        return self.check(step, actual)

    def check(self, step: Step, actual: list[str]) -> StepResult:
        expected = [match.Expected(line.text, line.exact) for line in step.expected]
        captures = match.match_lines(expected, actual, self.captures)
        if captures is not None:
            self.captures = captures
            return StepResult(step, PASSED, actual)
        lines = match.diff([(line.number, e) for line, e in zip(step.expected, expected)],
                           actual, self.captures)
        return StepResult(step, FAILED, actual, match.format_diff(self.t.path, lines),
                          captures=dict(self.captures))

    def connect(self, name: str, host: str, written: int) -> list[str]:
        """What the connection showed. Of the modern dialect's negotiation (capabilities,
        STARTTLS, COMPRESS, the login's NOOP) only the banner line is checked, unless the
        transcript writes more than that one line."""
        from syncsh.connect import open_session
        target = self.target_for(host)
        lines: list[str] = []
        session = open_session(target, timeout=self.r.timeout, gate=self.gate(target),
                               on_wire=lambda d, raw: d == "S" and lines.extend(_lines(raw)))
        self.connections[name] = (session, target)
        if session.dialect == "csync" and written <= 1:
            return [session.banner.text]
        return lines

    def send(self, step: Step) -> None:
        if step.session not in self.connections:
            raise Unreplayable("a protocol line before any `$ ssh` connection"
                               + (f" of session {step.session}" if step.session else ""))
        session, target = self.connections[step.session]
        wire = step.command.text
        verdict = self.gate(target).judge(session.table, wire)
        if verdict.action != guard.SEND:
            from syncsh.transcript.preflight import refusal_text
            raise Unreplayable(refusal_text(verdict.action, verdict.name, target,
                                            self.r.read_only))
        heard = self.heard[step.session] = []
        session.on_wire = lambda d, raw: d == "S" and heard.extend(_lines(raw))
        try:
            session.send(wire.encode("utf-8", "surrogateescape"))
        except ConnectionLost:
            del self.connections[step.session]
            raise

    def receive(self, name: str) -> list[str]:
        session, _ = self.connections[name]
        try:
            for _ in session.replies():
                pass
        except ConnectionLost:
            del self.connections[name]
            raise
        return self.heard.pop(name, [])

    def replicate(self, argv: list[str]) -> list[str]:
        from syncsh.replica.request import parser
        from syncsh.replica.engine import Replicator
        from syncsh.replica.master import MasterStore
        from syncsh.replica.runner import replicate
        args = parser_args(parser(), argv + ["--master", "-"])
        target = self.target_for(args.target)
        action = guard.decide(True, target, read_only=self.r.read_only,
                              allow_writes=self.r.allow_writes)
        if action != guard.SEND:
            from syncsh.transcript.preflight import refusal_text
            raise Unreplayable(refusal_text(action, "replicate", target, self.r.read_only))
        from syncsh.connect import open_session
        out: list[str] = []
        session = open_session(target, timeout=self.r.timeout, on_stderr=out.append,
                               server_verbosity=2 if args.verbosity >= 2 else 0,
                               gate=self.gate(target, guard.REPLICATE))
        master = MasterStore(self.store_of(self.t.master))
        try:
            engine = Replicator(master, session, verbosity=args.verbosity, say=out.append)
            replicate(engine, users=args.users, mailboxes=args.mailboxes, report=out.append)
        finally:
            master.close()
            session.close()
        return out

    def gate(self, target, door: str = guard.REPLAY):
        return guard.Gate(target, door=door, read_only=self.r.read_only,
                          allow_writes=self.r.allow_writes)

    def end_connection(self, name: str) -> None:
        if name in self.connections:
            self.connections.pop(name)[0].close()

    def close(self) -> None:
        for name in list(self.connections):
            self.end_connection(name)
        if self.owns_private and self.private:
            shutil.rmtree(self.private, ignore_errors=True)


def _lines(raw: bytes) -> list[str]:
    text = raw.decode("utf-8", "surrogateescape")
    if text.endswith("\r\n"):
        text = text[:-2]
    return text.split("\r\n")
