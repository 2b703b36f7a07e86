"""syncsh: an interactive console for the Cyrus IMAP replication protocol."""

__version__ = "0.1.0"
