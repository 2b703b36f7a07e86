"""One diff run, whichever door asked for it (`syncsh diff`, the console's \\diff): the
named users and mailboxes compared and reported, or a whole-server audit (whole.py)."""

from __future__ import annotations

import time

from syncsh.status import ExitStatus


def run_diff(args, env) -> ExitStatus:
    """Compare as ``args`` (diff/request.py's parser) asks; the report goes to ``env``'s
    streams.  0 identical, 1 divergent, 2 errors or names that match nothing."""
    from syncsh.diff.request import resolve
    master, replica, users, pair = resolve(args, env)
    if args.all_users or args.state:
        from syncsh.diff import whole
        return whole.run_sweep(args, master, replica,
                               whole.user_list(args, master, pair) or users, env)
    console = None if args.format == "json" else _console(args, env)
    report = _compared(master, replica, users, args, console)
    _show(report, master, replica, args, console, env)
    if report.errors or report.absent:
        return ExitStatus.ERROR
    return ExitStatus.FAILED if report.divergent else ExitStatus.OK


def _console(args, env):
    from rich.console import Console
    from syncsh.render import color_wanted
    from syncsh.render.table import Trimmed
    setting = False if args.no_color or env.color is False else None
    colour = color_wanted(env.stdout, setting)
    return Console(file=Trimmed(env.stdout), highlight=False, soft_wrap=True,
                   force_terminal=colour, no_color=not colour)


def _compared(master, replica, users, args, console):
    """The report, its rows shown as each user finishes (not with --recheck: only what
    persisted is shown)."""
    from syncsh.diff import report as text
    if console is not None:
        text.render_header(master.text, replica.text, console)

    def show_rows(user, findings):
        text.render_findings(findings, console, _limit(args))
        console.file.flush()
    streamed = show_rows if console is not None and not args.recheck else None
    report = diff_targets(master, replica, users, args.mailbox, args, streamed)
    if args.recheck and (report.divergent or report.errors):
        time.sleep(args.recheck)
        again = diff_targets(master, replica, users, args.mailbox, args)
        report = confirmed(report, again)
    if console is not None and streamed is None:
        text.render_findings(report.findings, console, _limit(args))
    return report


def _limit(args):
    from syncsh.diff import report as text
    return None if args.all_rows else text.ROWS_SHOWN


def _show(report, master, replica, args, console, env) -> None:
    from syncsh.diff import report as text
    if console is None:
        env.say(text.to_json(report, master.text, replica.text))
    else:
        text.render_summary(report, console)
    if report.absent:
        env.warn("syncsh diff: nothing on either end for: " + ", ".join(report.absent)
                 + " (check the names)")


def diff_targets(master, replica, users, mailboxes, args, on_user=None):
    from syncsh import guard
    from syncsh.connect import open_session
    from syncsh.diff.collect import Differ
    sessions = []
    try:
        for target in (master, replica):
            # diff reads only: its gate refuses any write, whatever the options say
            gate = guard.Gate(target, door=guard.DIFF, read_only=True)
            sessions.append(open_session(target, timeout=args.timeout, dialect=args.dialect,
                                         learn=False, gate=gate))
        differ = Differ(*sessions, expunged=args.expunged, full=args.full,
                        master_store=args.master_store or master.store,
                        master_name=master.text, replica_name=replica.text)
        return differ.run(users, mailboxes, on_user)
    finally:
        for session in sessions:
            session.close()


def confirmed(first, second):
    """Only what both looks saw is divergence; the rest was replication catching up."""
    keys = {f.key for f in first.findings}
    second.findings = [f for f in second.findings if f.key in keys]
    second.identical_users = [u for u in second.users if u not in second.absent_users and
                              not any(f.user == u and not f.consequence for f in second.findings)]
    return second
