"""Labels for what a reply carries: a number on its own says nothing to the reader.

The table view's words for an OK's data and for modern reply lines it has no table for
(rich markup, server text escaped); JSON names the same values with OK_VALUE_NAMES."""

from __future__ import annotations

from datetime import datetime, timezone

from syncsh.printable import for_markup as _escape

# what the number of a documented-dialect OK is, by command (JSON names it the same way)
OK_VALUE_NAMES = {"STATUS": "uidlast", "QUOTA": "quota limit", "USER_ALL": "quota limit"}


def labelled_ok(done) -> str | None:
    """An OK's data with its labels (rich markup), or None when it carries none."""
    if not done.ok:
        return None
    name = OK_VALUE_NAMES.get(done.command)
    if name and isinstance(done.data, int):
        if name == "uidlast":
            return f"uidlast {done.data}"
        if done.data == 0 and done.command == "USER_ALL":
            return "quota limit 0 (no quota root)"
        return f"{name} {done.data} KiB"
    if isinstance(done.data, dict) and done.command == "INFO":
        flags = " ".join(done.data.get("flags") or ()) or "(none)"
        return (f"uidvalidity {done.data['uidvalidity']} [dim]{utc(done.data['uidvalidity'])}"
                f"[/dim]  uidlast {done.data['uidlast']}  user flags {_escape(flags)}")
    return None


def dlist_labelled(event) -> str:
    """A modern reply line syncsh has no table for: its name, then each key with its value
    (a message file: where it is and its size, not its bytes)."""
    from syncsh.protocol.dlist_values import encode
    value = event.value
    if hasattr(value, "guid") and hasattr(value, "data"):
        return (f"{_escape(event.name.lower())}  guid [yellow]{_escape(value.guid)}[/yellow]  "
                f"partition {_escape(value.partition)}  {len(value.data)} bytes "
                "[dim](--format json has them)[/dim]")
    if isinstance(value, dict):
        return f"{_escape(event.name.lower())}  " + "  ".join(
            f"[dim]{_escape(str(key).lower())}[/dim] "
            f"{_escape(encode(item).decode('utf-8', 'replace'))}" for key, item in value.items())
    return f"{_escape(event.name.lower())}  {_escape(encode(value).decode('utf-8', 'replace'))}"


def utc(ts: int | None) -> str:
    if not ts:
        return "-"
    try:
        return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "?"
