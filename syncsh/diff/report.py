"""A diff report: a summary table, then each mailbox's findings with a next step."""

from __future__ import annotations

import json

from syncsh.diff.compare import Report


def grouped_steps(report: Report) -> list[tuple[object, list]]:
    """Each distinct next step once, with the findings it repairs, in first-seen order."""
    groups: dict[tuple, tuple[object, list]] = {}
    for finding in report.findings:
        step = finding.step
        if finding.consequence or not step or not hasattr(step, "key"):
            continue
        groups.setdefault(step.key(), (step, []))[1].append(finding)
    return list(groups.values())


def _merged(step, findings) -> dict:
    """One step's JSON, with the losses of every finding it repairs."""
    out = step.as_json()
    out["summary"] = sorted({f.step.summary for f in findings})    # always a list
    out["flow"] = sorted({f.step.flow for f in findings})
    out["loses"] = {"messages": [m for f in findings for m in f.step.loses],
                    "folders": [n for f in findings for n in f.step.folders_lost]}
    out["loses_mail"] = any(f.step.loses_mail for f in findings)
    out["copyback"] = any(f.step.copyback for f in findings)
    out["findings"] = len(findings)
    return out


def _step_text(step) -> str:
    return step.text() if hasattr(step, "text") else str(step or "")


def to_json(report: Report, master: str, replica: str) -> str:
    """The report as JSON lines (docs/json.md): a "finding" line each, a "step" line each
    next step, and a "report" line last with the verdict and the users."""
    lines = [{"type": "finding", **finding_json(f)} for f in report.findings]
    steps = grouped_steps(report)
    lines += [{"type": "step", **_merged(step, found)} for step, found in steps]
    lines.append({
        "type": "report", "master": master, "replica": replica,
        "identical": not report.divergent and not report.errors and not report.absent,
        "users": report.users, "identical_users": report.identical_users,
        "absent_users": report.absent_users, "absent_mailboxes": report.absent_mailboxes,
        "errors": report.errors, "findings": len(report.findings), "next_steps": len(steps)})
    return "\n".join(json.dumps(line) for line in lines)


def finding_json(f) -> dict:
    """One finding as JSON: the report's and a whole-server audit's rows alike."""
    return {"user": f.user, "mailbox": f.mailbox, "kind": f.kind, "detail": f.detail,
            "uid": f.uid, "master": _plain(f.master), "replica": _plain(f.replica),
            "consequence": f.consequence, "next_step": _step_text(f.step),
            "repair": f.step.as_json() if hasattr(f.step, "as_json") else None}


def _plain(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


ROWS_SHOWN = 20      # text: rows of one kind in one mailbox before "… and N more"


def render_header(master: str, replica: str, console) -> None:
    from syncsh.printable import for_markup as escape
    console.print(f"[bold]diff[/bold] {escape(master)} (master) ↔ {escape(replica)} (replica)")


def render_findings(findings, console, limit: int | None = ROWS_SHOWN) -> None:
    """Findings grouped by mailbox, as they come (one user's at a time): at most ``limit``
    rows of one kind in a mailbox, then how many more (JSON always lists them all)."""
    from syncsh.printable import for_markup as escape
    groups: dict[tuple[str, str], list] = {}
    for finding in findings:
        groups.setdefault((finding.user, finding.mailbox or "(user)"), []).append(finding)
    for (user, mailbox), found in groups.items():
        console.print(f"\n[bold]{escape(user)}[/bold]  [cyan]{escape(mailbox)}[/cyan]")
        shown: dict[str, int] = {}
        for f in found:
            shown[f.kind] = shown.get(f.kind, 0) + 1
            if limit is not None and shown[f.kind] > limit:
                continue
            style = "dim" if f.consequence else ("red" if f.kind in (
                "split-brain", "missing-on-master", "only-on-replica", "body", "crc") else "yellow")
            console.print(f"  [{style}]{escape(f.kind)}[/{style}]  {escape(f.detail)}")
            if f.step and not f.consequence and f.step.loses_mail:
                console.print(f"      [bold red]→ {escape(f.step.loss_text())}[/bold red]")
        for kind, count in shown.items():
            if limit is not None and count > limit:
                console.print(f"  [dim]… and {count - limit} more {escape(kind)} finding(s) "
                              "here (--all-rows or --format json lists them)[/dim]")


def render_summary(report: Report, console) -> None:
    """After the findings: a table by user and mailbox, each next step once, the verdict."""
    from syncsh.printable import for_markup as escape
    from rich.table import Table
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    for column in ("user", "mailbox", "findings", "consequences"):
        table.add_column(column)
    groups: dict[tuple[str, str], list] = {}
    for finding in report.findings:
        groups.setdefault((finding.user, finding.mailbox or "(user)"), []).append(finding)
    for (user, mailbox), findings in groups.items():
        real = [f for f in findings if not f.consequence]
        kinds: dict[str, int] = {}
        for f in real:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        table.add_row(escape(user), escape(mailbox),
                      ", ".join(f"{k} {n}" if n > 1 else k for k, n in kinds.items()) or "-",
                      str(len(findings) - len(real)) if len(findings) > len(real) else "")
    for user in report.identical_users:
        table.add_row(escape(user), "", "[green]identical[/green]", "")
    for user in report.absent_users:
        table.add_row(escape(user), "", "[yellow]no mailbox on either end[/yellow]", "")
    for name in report.absent_mailboxes:
        table.add_row("", escape(name), "[yellow]on neither end[/yellow]", "")
    console.print()
    console.print(table)
    steps = grouped_steps(report)
    if steps:
        console.print("\n[bold]next steps[/bold]")
    for step, found in steps:
        render_step(console, step, found)
    for error in report.errors:
        console.print(f"[bold red]error[/bold red] {escape(error)}")
    if report.absent:
        console.print(f"[yellow]nothing on either end for {escape(', '.join(report.absent))} "
                      "(check the names)[/yellow]")
    if not report.divergent and not report.errors and report.absent:
        pass
    elif not report.divergent and not report.errors:
        console.print("[green]identical[/green]")
    else:
        real = sum(1 for f in report.findings if not f.consequence)
        console.print(f"\n{real} finding(s), {len(report.findings) - real} consequence(s)"
                      + (f", {len(report.errors)} error(s)" if report.errors else ""))


def render(report: Report, master: str, replica: str, console) -> None:
    """The whole text report at once (the REPL's \\diff, and a --recheck)."""
    render_header(master, replica, console)
    render_findings(report.findings, console)
    render_summary(report, console)


def render_step(console, step, findings) -> None:
    """A next step once, however many findings it repairs."""
    from syncsh.printable import for_markup as escape
    count = f" (repairs {len(findings)} findings)" if len(findings) > 1 else ""
    flows = sorted({f.step.flow for f in findings})
    head = escape(step.command) if step.command else "[bold]manual procedure[/bold]"
    console.print(f"  {head}  [dim]{escape('[' + ', '.join(flows) + ']' + count)}[/dim]")
    summaries = list(dict.fromkeys(f.step.summary for f in findings))
    for summary in summaries[:5]:
        console.print(f"      {escape(summary)}")
    if len(summaries) > 5:
        console.print(f"      … and {len(summaries) - 5} more")
    if any(f.step.copyback for f in findings):
        console.print("      [dim]copy-back: without -O (sync_client -O refuses replica-side "
                      "changes with \"Replication inconsistency detected\" and drops "
                      "nothing)[/dim]")
    for number, line in enumerate(step.procedure, 1):
        console.print(f"      {number}. {escape(line)}")
    lost = [m for f in findings for m in f.step.loses]
    folders = [n for f in findings for n in f.step.folders_lost]
    if lost or folders:
        console.print(f"      [bold red]LOSES MAIL: {len(lost)} message(s)"
                      + (f", {len(folders)} folder(s)" if folders else "") + "[/bold red]")
        for m in lost[:20]:
            console.print(f"        {escape(m['mailbox'])} UID {m['uid']} ({escape(str(m['guid']))})")
        if len(lost) > 20:
            console.print(f"        … and {len(lost) - 20} more (--format json lists them all)")
        for name in folders:
            console.print(f"        folder {escape(name)}")
    else:
        console.print("      [green]loses no mail[/green]")
