"""A diff report: a summary table, then each mailbox's findings with a next step."""

from __future__ import annotations

import json

from syncsh.diff.compare import Report


def to_json(report: Report, master: str, replica: str) -> str:
    return json.dumps({
        "master": master, "replica": replica, "identical": not report.divergent and not report.errors,
        "users": report.users, "identical_users": report.identical_users,
        "absent_users": report.absent_users, "errors": report.errors,
        "findings": [finding_json(f) for f in report.findings],
    }, indent=2)


def finding_json(f) -> dict:
    """One finding as JSON: the report's and a whole-server audit's rows alike."""
    return {"user": f.user, "mailbox": f.mailbox, "kind": f.kind, "detail": f.detail,
            "uid": f.uid, "master": _plain(f.master), "replica": _plain(f.replica),
            "consequence": f.consequence, "next_step": f.step}


def _plain(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def render(report: Report, master: str, replica: str, console) -> None:
    from rich.markup import escape
    from rich.table import Table
    console.print(f"[bold]diff[/bold] {escape(master)} (master) ↔ {escape(replica)} (replica)")
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
    console.print(table)
    for (user, mailbox), findings in groups.items():
        console.print(f"\n[bold]{escape(user)}[/bold]  [cyan]{escape(mailbox)}[/cyan]")
        for f in findings:
            style = "dim" if f.consequence else ("red" if f.kind in (
                "split-brain", "missing-on-master", "only-on-replica", "body", "crc") else "yellow")
            console.print(f"  [{style}]{escape(f.kind)}[/{style}]  {escape(f.detail)}")
            if f.step:
                console.print(f"      [dim]→ {escape(f.step)}[/dim]")
    for error in report.errors:
        console.print(f"[bold red]error[/bold red] {escape(error)}")
    if not report.divergent and not report.errors:
        absent = len(report.absent_users)
        console.print("[green]identical[/green]" + (
            f" [yellow]({absent} of {len(report.users)} with no mailbox on either end: "
            "check the names)[/yellow]" if absent else ""))
    else:
        real = sum(1 for f in report.findings if not f.consequence)
        console.print(f"\n{real} finding(s), {len(report.findings) - real} consequence(s)"
                      + (f", {len(report.errors)} error(s)" if report.errors else ""))
