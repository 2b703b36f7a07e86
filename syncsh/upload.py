"""\\upload FILE MAILBOX [FLAG…]: put a message file into a mailbox of a modern replica.

It computes the GUID (SHA-1) and size, asks the replica for the mailbox's state, stages
the file (APPLY RESERVE, then APPLY MESSAGE when it comes back MISSING) and sends the
APPLY MAILBOX that adds the record, guarded by SINCE_MODSEQ/SINCE_CRC so that a mailbox
that changed meanwhile is left alone.  A write: the guard rail applies.  Note that a
normal sync_client run copies such a replica-side append back to the master.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time

from syncsh.errors import SyncshError, UsageError
from syncsh.model import Mailbox
from syncsh.protocol.csync import Missing
from syncsh.protocol.dlist_values import KV, File, Flag, encode, encode_named


class UploadFailed(SyncshError):
    pass


def parse_args(rest: str) -> tuple[str, str, list[str]]:
    import shlex
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise UsageError(f"\\upload: {exc}") from None
    if len(words) < 2:
        raise UsageError("\\upload FILE MAILBOX [FLAG …]")
    return words[0], words[1], words[2:]


def _run(session, line: bytes, confirmed: bool):
    events, done = session.run(line, confirmed=confirmed)
    if not done.ok:
        word = b" ".join(line.split(b" ", 2)[:2]).decode()
        raise UploadFailed(f"{word}: {done.status} {done.text}")
    return events


@dataclasses.dataclass(frozen=True)
class Upload:
    """An upload checked and ready to send: the message read, the mailbox's state known."""
    path: str
    mailbox: str
    flags: tuple[str, ...]
    data: bytes
    guid: str                     # the SHA-1 of data, as Cyrus names a message
    fields: dict                  # the mailbox's state as GET MAILBOXES gave it


def upload(session, path: str, mailbox: str, flags: list[str] | None = None, *, now=None,
           confirmed: bool = False) -> str:
    """``confirmed``: the user said yes to this upload (the session's gate judges each
    command it sends all the same; writes are audited with the upload door)."""
    return send(session, prepare(session, path, mailbox, flags), confirmed=confirmed, now=now)


def prepare(session, path: str, mailbox: str, flags: list[str] | None = None) -> Upload:
    """All an upload needs, checked before anyone is asked to send it: the dialect, the
    file (read whole), and the mailbox's state on the replica (a read)."""
    check_dialect(session.dialect)
    data = read_message(path)
    with _as_upload(session):
        events = _run(session, encode_named("GET MAILBOXES", [mailbox]), False)
    box = next((e for e in events if isinstance(e, Mailbox) and e.name == mailbox), None)
    if box is None or box.fields is None:
        raise UploadFailed(f"the replica has no mailbox {mailbox}")
    return Upload(path, mailbox, tuple(flags or ()), data, hashlib.sha1(data).hexdigest(),
                  box.fields)


def check_dialect(dialect: str) -> None:
    """\\upload speaks the modern dialect only (said before connecting where the target's
    kind tells the dialect)."""
    if dialect != "csync":
        raise UsageError("\\upload is for the modern dialect; in the documented one UPLOAD "
                         "carries the message as a literal (write it in a transcript)")


def read_message(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def _as_upload(session):
    """The session's gate sees these commands as the upload's (its audit names the door)."""
    import contextlib

    from syncsh.guard import UPLOAD
    gate = session.gate
    return gate.door_as(UPLOAD) if gate is not None else contextlib.nullcontext()


def send(session, plan: Upload, *, confirmed: bool = False, now=None) -> str:
    """Stage the message and add its record (the writes)."""
    with _as_upload(session):
        return _send(session, plan, confirmed, now)


def _send(session, plan: Upload, confirmed: bool, now) -> str:
    fields, mailbox, data, guid = plan.fields, plan.mailbox, plan.data, plan.guid
    partition = str(fields.get("PARTITION") or "default")
    events = _run(session, encode_named("APPLY RESERVE", KV(PARTITION=partition,
                                                            MBOXNAME=[mailbox], GUID=[guid])),
                  confirmed)
    missing = {g for e in events if isinstance(e, Missing) for g in e.guids}
    if guid in missing:
        _run(session, encode_named("APPLY MESSAGE", [File(partition, guid, data)]), confirmed)
    stamp = int(now if now is not None else time.time())
    uid = int(fields.get("LAST_UID") or 0) + 1
    modseq = int(fields.get("HIGHESTMODSEQ") or 0) + 1
    record = KV(UID=uid, MODSEQ=modseq, LAST_UPDATED=stamp,
                FLAGS=[Flag(f) for f in plan.flags], INTERNALDATE=stamp, SIZE=len(data),
                GUID=guid)
    apply = KV()
    for key, value in fields.items():
        if key in ("SYNC_CRC", "SYNC_CRC_ANNOT", "QUOTAROOT"):
            continue                  # the replica recomputes these
        apply[key] = value
    apply.update(LAST_UID=uid, HIGHESTMODSEQ=modseq, LAST_APPENDDATE=stamp)
    apply["SINCE_MODSEQ"] = int(fields.get("HIGHESTMODSEQ") or 0)
    apply["SINCE_CRC"] = int(fields.get("SYNC_CRC") or 0)
    apply["SINCE_CRC_ANNOT"] = int(fields.get("SYNC_CRC_ANNOT") or 0)
    apply["RECORD"] = [record]
    _run(session, b"APPLY MAILBOX " + encode(apply), confirmed)
    return (f"uploaded {plan.path} to {mailbox} as UID {uid} (GUID {guid}, {len(data)} bytes); "
            "a normal sync copies this replica-side append back to the master")
