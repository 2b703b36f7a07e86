"""What a replicate run is asked to do, read from its command line: the `syncsh replicate`
front end and a transcript's `$ replicate` line read it with the same parser."""

from __future__ import annotations

from syncsh.argparsing import Parser, positive_seconds


def parser():
    p = Parser(prog="syncsh replicate",
                description="Make a replica equal to a master store, printing what it sends.")
    p.add_argument("--master", required=True, metavar="STORE", help="the master's store directory")
    p.add_argument("-s", dest="target", required=True, metavar="TARGET",
                   help="the replica: any target (syncsh --help lists the forms)")
    p.add_argument("-v", dest="verbosity", action="count", default=0,
                   help="-v: the client's lines; -v -v: and the server's trace")
    mode = p.add_mutually_exclusive_group(required=True)
    # repeatable as diff's --user is: -u A -u B is -u A B (never the last one only)
    mode.add_argument("-m", dest="mailboxes", nargs="+", action="extend", metavar="MAILBOX",
                      help="mailbox mode: these mailboxes")
    mode.add_argument("-u", dest="users", nargs="+", action="extend", metavar="USER",
                      help="user mode: everything of these users")
    p.add_argument("--dry-run", action="store_true",
                   help="print the writes it would send; send none")
    p.add_argument("--read-only", action="store_true",
                   help="refuse to write (only --dry-run runs)")
    p.add_argument("--timeout", type=positive_seconds, default=30.0, metavar="SECONDS",
                   help="the longest wait for the replica's next bytes (default 30)")
    p.add_argument("--debug", action="store_true", help="tracebacks for errors")
    p.add_argument("--config", metavar="FILE", help="named targets (default: the user's "
                                                   "config.toml)")
    p.add_argument("--remote-command", metavar="CMD",
                   help="ssh://: the command to run remotely (with arguments)")
    p.add_argument("--ssh-config", metavar="FILE", help="ssh://: instead of ~/.ssh/config")
    p.add_argument("--ssh-backend", choices=("paramiko", "openssh"), default="paramiko",
                   help="ssh://: paramiko (default) or the system's ssh -T")
    return p
