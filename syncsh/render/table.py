"""Tables on a terminal: message rows at fixed widths written as they come; rich draws the
small things (mailbox headers, ACLs, summaries)."""

from __future__ import annotations

import re

from syncsh.labels import utc
from syncsh.model import Mailbox, Message, MessageBatch, SieveScript, is_null_guid, parse_acl
from syncsh.printable import has_unsafe, printable
from syncsh.protocol.events import (Banner, Continuation, ContentsItem, Done, Reserved, SelectInfo,
                                    Subscription, Untagged)
from syncsh.render.base import Renderer, _isatty

_RESET = "\x1b[0m"
_STYLE = {"uid": "\x1b[36m", "guid": "\x1b[33m", "null": "\x1b[2m", "flag": "\x1b[35m",
          "sysflag": "\x1b[1;35m", "dim": "\x1b[2m"}


class TableRenderer(Renderer):
    def __init__(self, out=None, **kwargs) -> None:
        super().__init__(out, **kwargs)
        self._console = None
        self._rows = 0               # message rows since the last header
        self._guid_width = 24
        self._header_due = True
        self._modern = False         # rows carry MODSEQ, INTERNALDATE, SIZE
        self._expunged = 0           # of the rows since the last header: kept, not live
        self._annotations: list = [] # GET ANNOTATION lines, drawn as one table

    @property
    def console(self):
        """rich, imported when first needed: the banner and message rows do without it,
        so the prompt comes up sooner."""
        if self._console is None:
            from rich.console import Console
            self._console = Console(file=Trimmed(self.out), force_terminal=self.color,
                                    no_color=not self.color, width=self.width, highlight=False,
                                    soft_wrap=True)
        return self._console

    # --- small things, drawn by rich
    def banner(self, banner: Banner, target: str = "") -> None:
        where = f"{target}: " if target else ""
        self.out.write(self._paint("dim", printable(f"{where}{banner.text}  "
                                                    f"({banner.dialect} dialect)"))
                       + "\n")

    def command(self, line: str) -> None:
        self._rows = 0
        self._header_due = True
        self.console.print(f"[bold]>[/bold] {_escape(line)}", markup=True)

    def note(self, text: str) -> None:
        self.console.print(f"[dim]{_escape(text)}[/dim]", markup=True)

    def mailbox(self, box: Mailbox) -> None:
        from rich.table import Table
        self._end_rows()
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column(overflow="fold")
        grid.add_row("mailbox", f"[bold cyan]{_escape(box.name)}[/bold cyan]")
        grid.add_row("uniqueid", _escape(box.uniqueid))
        if box.uidlast is not None:
            grid.add_row("uidlast", str(box.uidlast))
        if box.uidvalidity is not None:
            grid.add_row("uidvalidity", f"{box.uidvalidity}  [dim]{utc(box.uidvalidity)}[/dim]")
        if box.seen_lastchange is not None:
            grid.add_row("seen changed", f"{box.seen_lastchange}  "
                                         f"[dim]{utc(box.seen_lastchange)}[/dim]")
        if box.last_recent_uid is not None:
            grid.add_row("last recent uid", str(box.last_recent_uid))
        fields = box.fields or {}
        if box.highestmodseq is not None:
            grid.add_row("highestmodseq", str(box.highestmodseq))
        for key in ("SYNC_CRC", "SYNC_CRC_ANNOT"):
            if key in fields:
                grid.add_row(key.lower().replace("_", " "), _escape(str(fields[key])))
        for key in ("RECENTTIME", "LAST_APPENDDATE", "POP3_LAST_LOGIN"):
            value = fields.get(key)
            if value not in (None, "0"):
                grid.add_row(key.lower().replace("_", " "), f"{value}  [dim]{utc(int(value))}[/dim]"
                             if str(value).isdigit() else _escape(str(value)))
        for key in ("PARTITION", "OPTIONS", "QUOTAROOT", "MBOXTYPE", "FOLDERMODSEQ"):
            if fields.get(key) not in (None, ""):
                grid.add_row(key.lower(), _escape(str(fields[key])))
        acl = Table(show_header=True, header_style="dim", box=None, padding=(0, 2, 0, 0))
        acl.add_column("identifier")
        acl.add_column("rights")
        for entry in parse_acl(box.acl):
            acl.add_row(_escape(entry.identifier), _escape(entry.rights))
        grid.add_row("acl", acl)
        annotations = [(a.get("ENTRY"), a.get("USERID"), a.get("VALUE"))
                       for a in fields.get("ANNOTATIONS") or () if isinstance(a, dict)]
        if annotations:
            grid.add_row("annotations", _annotation_table(annotations))
        self.console.print(grid)
        self._header_due = True

    # --- message rows: streamed, fixed widths, identifiers never cut
    def message(self, msg: Message) -> None:
        if self._header_due:
            self._guid_width = max(24, len(msg.guid))
            self._modern = msg.modseq is not None
            extra = f"{'MODSEQ':>8}  {'INTERNALDATE':<19}  {'SIZE':>9}  " if self._modern else ""
            self.out.write(self._paint("dim", f"{'UID':>10}  {extra}"
                                              f"{'GUID':<{self._guid_width}}  FLAGS") + "\n")
            self._header_due = False
        guid_style = "null" if is_null_guid(msg.guid) else "guid"
        flags = " ".join(self._paint("sysflag" if f.startswith("\\") else "flag", printable(f))
                         for f in msg.flags)
        extra = ""
        if self._modern:
            extra = (f"{msg.modseq or 0:>8}  {utc(msg.internaldate)[:19]:<19}  "
                     f"{msg.size if msg.size is not None else '':>9}  ")
        guid = printable(msg.guid).ljust(self._guid_width) if flags else printable(msg.guid)
        self.out.write(f"{self._paint('uid', f'{msg.uid:>10}')}  {extra}"
                       f"{self._paint(guid_style, guid)}{'  ' if flags else ''}{flags}\n")
        self._rows += 1
        if any(f.lower() == "\\expunged" for f in msg.flags):
            self._expunged += 1
        shown = [(e, u, v) for e, u, _, v in msg.annotations if not e.startswith(_CYRUS_OWN)]
        if shown:
            # the message's own annotations, under its row (Cyrus' savedate and
            # createdmodseq, on every message, are left to --format json)
            width = max(len(e) for e, _, _ in shown)
            for entry, userid, value in shown:
                self.out.write(self._paint("dim", f"{'':>10}  ↳ {entry:<{width}}  "
                                                  f"{userid or '(shared)':<10}  ")
                               + _plain_text(value) + "\n")

    def batch(self, batch: MessageBatch) -> None:
        if not batch.uids:
            return
        if batch.modseqs is not None or self.color or has_unsafe("".join(batch.guids)):
            for message in batch:
                self.message(message)
            return
        # plain rows of a big listing: one write for the run, each flag set joined once
        if self._header_due:
            self.message(batch[0])
            start = 1
        else:
            start = 0
        width = self._guid_width
        # (no flags: the line ends at the GUID, with no padding after it)
        flag_text = {flags: "  " + printable(" ".join(flags)) if flags else ""
                     for flags in set(batch.flags)}
        self.out.write("".join([f"{uid:>10}  {guid.ljust(width)}{flag_text[flags]}\n"
                                for uid, guid, flags in zip(batch.uids[start:],
                                                            batch.guids[start:],
                                                            batch.flags[start:])]))
        self._rows += len(batch.uids) - start

    def _paint(self, style: str, text: str) -> str:
        return f"{_STYLE[style]}{text}{_RESET}" if self.color else text

    def _end_rows(self) -> None:
        if self._rows:
            expunged = f", {self._expunged} expunged (kept, not counted)" if self._expunged \
                else ""
            self.out.write(self._paint("dim", f"{'':>10}  {self._rows - self._expunged} "
                                              f"message(s){expunged}") + "\n")
            self._rows = self._expunged = 0
        if self._annotations:
            self.console.print(_annotation_table(self._annotations))
            self._annotations = []

    def crc(self, check) -> None:
        """A CrcVerdict (syncsh.protocol.crc.checked puts them in the reply's events)."""
        self._end_rows()
        if check.agree is None:
            verdict = f"[yellow]server's is 0 (not known)[/yellow]; computed {check.computed}"
        elif check.agree:
            verdict = f"[green]agrees[/green] ({check.computed})"
        else:
            verdict = (f"[bold red]DIFFERS[/bold red]: server {check.server}, "
                       f"computed {check.computed}")
        self.console.print(f"{'':>10}  {check.name} {verdict}", markup=True)

    def event(self, event) -> None:
        if isinstance(event, MessageBatch):
            self.batch(event)
        elif isinstance(event, Message):
            self.message(event)
        elif isinstance(event, Mailbox):
            self.mailbox(event)
        elif isinstance(event, Done):
            self._end_rows()
            self.done(event)
        elif isinstance(event, Subscription):
            self._end_rows()
            self.console.print(f"subscribed  [cyan]{_escape(event.name)}[/cyan]", markup=True)
        elif isinstance(event, SieveScript):
            self._end_rows()
            active = "  [green]active[/green]" if event.active else ""
            when = f"  {event.mtime}  [dim]{utc(event.mtime)}[/dim]" if event.mtime else ""
            self.console.print(f"sieve  [bold]{_escape(event.name)}[/bold]{when}{active}",
                               markup=True)
            if event.content is not None:
                from rich.markup import escape
                text = event.content.decode("utf-8", "surrogateescape")   # lines kept
                self.console.print(escape(printable(text.rstrip("\r\n"), block=True)),
                                   markup=True)
        elif isinstance(event, Reserved):
            self.console.print(f"reserved  [yellow]{_escape(event.guid)}[/yellow]", markup=True)
        elif isinstance(event, ContentsItem):
            self.console.print(f"[cyan]{event.uid:>10}[/cyan]  {utc(event.internaldate)}  "
                               f"{_escape(event.return_path)}  ({_escape(' '.join(event.flags))})"
                               f"  [dim]{len(event.body)} bytes[/dim]", markup=True)
        elif isinstance(event, Untagged):
            if event.problem:
                self.console.print(f"[yellow]! {_escape(event.problem)}:[/yellow] "
                                   f"{_escape(event.text)}", markup=True)
            else:
                self.console.print(_escape(event.text), markup=True)
        elif isinstance(event, Continuation):
            self.console.print(f"[dim]+ {_escape(event.text)}[/dim]", markup=True)
        else:
            self.modern_event(event)

    def modern_event(self, event) -> None:
        """The modern dialect's own events (imported once one arrives: start-up does not pay)."""
        from syncsh.protocol.crc import CrcVerdict
        from syncsh.protocol.csync_events import DlistLine, MailboxEnd, Missing, Quota, Seen
        if isinstance(event, CrcVerdict):
            self.crc(event)
        elif isinstance(event, MailboxEnd):
            self._end_rows()
        elif isinstance(event, Quota):
            self._end_rows()
            limits = [(k.lower(), v) for k, v in event.resources]
            if event.limit is not None and "storage" not in dict(limits):
                limits.insert(0, ("storage", event.limit))
            shown = "  ".join(f"{_escape(name)} limit {value}"
                              + (" KiB" if name.endswith("storage") else "")
                              for name, value in limits) or "no limits"
            self.console.print(f"quota  [bold]{_escape(event.root)}[/bold]  {shown}"
                               + (f"  [dim]modseq {event.modseq}[/dim]"
                                  if event.modseq is not None else ""), markup=True)
        elif isinstance(event, Seen):
            self._end_rows()
            self.console.print(f"seen  {_escape(event.uniqueid)}  lastuid {event.lastuid}  "
                               f"changed {event.lastchange} [dim]{utc(event.lastchange)}[/dim]  "
                               f"uids {_escape(event.seenuids)}", markup=True)
        elif isinstance(event, Missing):
            self.console.print(f"missing  [yellow]{_escape(' '.join(event.guids))}[/yellow]",
                               markup=True)
        elif isinstance(event, DlistLine) and event.name == "ANNOTATION" and \
                isinstance(event.value, dict):
            value = event.value
            self._annotations.append((value.get("MBOXNAME"), value.get("ENTRY"),
                                      value.get("USERID"), value.get("VALUE")))
        elif isinstance(event, DlistLine):
            self._end_rows()
            from syncsh.labels import dlist_labelled
            self.console.print(dlist_labelled(event), markup=True)

    def done(self, done: Done) -> None:
        if isinstance(done.data, SelectInfo):
            info = done.data
            extra = f"  last recent uid {info.last_recent_uid}" \
                if info.last_recent_uid is not None else ""
            self.console.print(f"[green]OK[/green]  selected  uniqueid {_escape(info.uniqueid)}  "
                               f"uidlast {info.uidlast}  seen changed {info.seen_lastchange} "
                               f"[dim]{utc(info.seen_lastchange)}[/dim]{extra}", markup=True)
            return
        if isinstance(done.data, bytes):
            self.out.write(printable(done.data.decode("utf-8", "replace").rstrip("\r\n"),
                                     block=True) + "\n")
        from syncsh.labels import labelled_ok
        labelled = labelled_ok(done)
        if labelled:
            self.console.print(f"[green]OK[/green]  {labelled}", markup=True)
            return
        colour = {"OK": "green", "NO": "red", "BAD": "bold red"}.get(done.status, "red")
        text = _escape(done.text)
        if done.code and done.status != "OK":
            text = text.replace(done.code, f"[bold]{done.code}[/bold]", 1)
        self.console.print(f"[{colour}]{done.status}[/{colour}] {text}", markup=True)


_CYRUS_OWN = "/vendor/cmu/cyrus-imapd/"

class Trimmed:
    """A stream for rich: its tables pad every line to the column widths; the spaces
    before each line's end (and before any closing colour codes) are left out."""
    _PADDING = re.compile(r" +((?:\x1b\[[0-9;]*m)*)(?=\n)")

    def __init__(self, out) -> None:
        self.out = out

    def write(self, text: str) -> int:
        self.out.write(self._PADDING.sub(r"\1", text))
        return len(text)

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        return _isatty(self.out)

    def fileno(self) -> int:
        return self.out.fileno()


def _plain_text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _annotation_table(rows):
    """([mailbox,] entry, user id, value) rows as a small table; "" as user id is a
    shared value."""
    from rich.table import Table
    table = Table(show_header=True, header_style="dim", box=None, padding=(0, 2, 0, 0))
    columns = ("entry", "user id", "value")
    if rows and len(rows[0]) == 4:
        columns = ("mailbox",) + columns
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        *head, userid, value = [_plain_text(cell) for cell in row]
        table.add_row(*map(_escape, head), _escape(userid or "(shared)"), _escape(value))
    return table


def _escape(text: str) -> str:
    """Server text for rich: control characters shown escaped, markup taken literally."""
    from syncsh.printable import for_markup
    return for_markup(text)
