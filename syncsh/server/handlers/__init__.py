"""The reference server's commands, grouped by what they touch; importing this package
fills the table in syncsh.server.registry."""

from syncsh.server.handlers import mailboxes, messages, sieve, users  # noqa: F401
