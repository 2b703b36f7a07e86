"""Replay reports people can act on: per step, a diff for each failure, counts; JUnit for CI."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from syncsh.printable import printable
from syncsh.status import ExitStatus
from syncsh.transcript.replay import ERROR, FAILED, PASSED, FileResult


def _step_name(result) -> str:
    command = result.step.command
    first = command.text.split("\r\n", 1)[0]
    return f"line {command.number}: {first}"


def text_report(results: list[FileResult], *, verbose: bool = False) -> list[str]:
    out = []
    counts = {PASSED: 0, FAILED: 0, ERROR: 0}
    for file in results:
        out.append(f"{file.path}: {file.status}")
        if file.error:
            out.append(f"  error: {file.error}")
            counts[ERROR] += 1
        for step in file.steps:
            counts[step.status] += 1
            if step.status == PASSED and not verbose:
                continue
            out.append(f"  {step.status:<6}  {_step_name(step)}")
            if step.message:
                out.append(f"          {step.message}")
            out += [f"    {line}" for line in step.diff]
    files = {s: sum(1 for f in results if f.status == s) for s in (PASSED, FAILED, ERROR)}
    out.append(f"{len(results)} transcript(s): {files[PASSED]} passed, {files[FAILED]} failed, "
               f"{files[ERROR]} with errors; steps: {counts[PASSED]} passed, "
               f"{counts[FAILED]} failed, {counts[ERROR]} errors")
    # what came back may hold control bytes: shown escaped, never acted on by a terminal
    return [printable(line) for line in out]


def junit_report(results: list[FileResult]) -> str:
    suites = []
    for file in results:
        cases = []
        failures = errors = 0
        for step in file.steps:
            body = ""
            if step.status == FAILED:
                failures += 1
                body = f"<failure message={quoteattr('output differs')}>" \
                       f"{escape(chr(10).join(map(printable, step.diff)))}</failure>"
            elif step.status == ERROR:
                errors += 1
                body = f"<error message={quoteattr(printable(step.message))}/>"
            # control bytes are not XML: escaped as the text report shows them
            cases.append(f'    <testcase classname={quoteattr(file.path)} '
                         f'name={quoteattr(printable(_step_name(step)))}>{body}</testcase>')
        if file.error:
            errors += 1
            cases.append(f'    <testcase classname={quoteattr(file.path)} name="setup">'
                         f'<error message={quoteattr(printable(file.error))}/></testcase>')
        suites.append(f'  <testsuite name={quoteattr(file.path)} tests="{len(cases)}" '
                      f'failures="{failures}" errors="{errors}">\n' + "\n".join(cases)
                      + "\n  </testsuite>")
    return '<?xml version="1.0" encoding="utf-8"?>\n<testsuites>\n' + "\n".join(suites) \
        + "\n</testsuites>\n"


def exit_status(results: list[FileResult]) -> ExitStatus:
    statuses = {f.status for f in results}
    return ExitStatus.ERROR if ERROR in statuses else \
        ExitStatus.FAILED if FAILED in statuses else ExitStatus.OK
