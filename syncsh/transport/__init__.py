"""Transports move bytes and know nothing of commands.

Each has ``send(bytes)``, ``recv(timeout) -> bytes`` (b"" at end of stream),
``close()``, and hands the peer's diagnostic lines (a subprocess's stderr, an SSH
channel's stderr) to the ``on_stderr`` callback, never into the protocol stream.
"""
