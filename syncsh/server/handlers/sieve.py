"""Sieve scripts of the current user."""

from __future__ import annotations

from syncsh.protocol.wire import literal, quoted_or_literal
from syncsh.server.args import Args, Bad, No
from syncsh.server.common import OUT
from syncsh.server.registry import command


@command("LIST_SIEVE")
def list_sieve(s, a: Args):
    a.end()
    yield s.trace("LIST_SIEVE")
    user = s.need_user()
    scripts = s.store.sieve_scripts(user)
    for name, mtime, active in scripts:
        yield OUT, b"* %s %d%s\r\n" % (quoted_or_literal(name), mtime, b" *" if active else b"")
    if not scripts:
        yield OUT, b"OK No sieve scripts currently active\r\n"
    else:
        yield OUT, b"OK List_sieve completed\r\n"


@command("GET_SIEVE")
def get_sieve(s, a: Args):
    name = a.astring()
    a.end()
    yield s.trace(f"GET_SIEVE {name}")
    user = s.need_user()
    script = s.store.sieve_script(user, name)
    if script is None:
        raise No("No such sieve file")
    yield OUT, b"OK " + literal(script) + b"\r\n"


@command("UPLOAD_SIEVE")
def upload_sieve(s, a: Args):
    name = a.astring()
    mtime = a.number()
    script = a.astring_raw()
    if not a.at_end:
        raise Bad("Unexpected arguments")
    yield s.trace(f"UPLOAD_SIEVE {name} {mtime}")
    user = s.need_user()
    if not _sieve_name_ok(name):
        raise No("Upload_sieve failed: Invalid script name")
    with s.store.write():
        s.store.put_sieve(user, name, mtime, script)
    yield OUT, b"OK Upload_sieve completed\r\n"


@command("ACTIVATE_SIEVE")
def activate_sieve(s, a: Args):
    name = a.astring()
    a.end()
    yield s.trace(f"ACTIVATE_SIEVE {name}")
    user = s.need_user()
    with s.committed("Activate_sieve failed"):
        s.store.activate_sieve(user, name)
    yield OUT, b"OK Activate_sieve completed\r\n"


@command("DEACTIVATE_SIEVE")
def deactivate_sieve(s, a: Args):
    a.end()
    yield s.trace("DEACTIVATE_SIEVE")
    user = s.need_user()
    with s.store.write():
        s.store.activate_sieve(user, None)
    yield OUT, b"OK Deactivate_sieve completed\r\n"


@command("DELETE_SIEVE")
def delete_sieve(s, a: Args):
    name = a.astring()
    a.end()
    yield s.trace(f"DELETE_SIEVE {name}")
    user = s.need_user()
    with s.committed("Delete_sieve failed"):
        s.store.delete_sieve(user, name)
    yield OUT, b"OK Delete_sieve completed\r\n"



def _sieve_name_ok(name: str) -> bool:
    return bool(name) and "/" not in name and name not in (".", "..", "default") and \
        not any(ord(c) < 0x20 for c in name)
