"""`syncsh tap`: the front end only (options to objects; the work is in syncsh/tap/)."""

from __future__ import annotations

from syncsh.argparsing import parse
from syncsh.status import ExitStatus


def parser():
    from syncsh.argparsing import Parser, positive_seconds
    p = Parser(prog="syncsh tap",
                description="Relay a real sync_client to a real sync_server unchanged, showing "
                            "both directions decoded, and keep them as transcripts.")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--listen", metavar="HOST:PORT",
                       help="accept sync_client connections here (port 0: any free port)")
    where.add_argument("--exec", metavar="COMMAND",
                       help="run COMMAND (a sync_server) and relay stdin/stdout to it")
    p.add_argument("--to", metavar="TARGET", help="with --listen: csync://HOST[:PORT] or "
                                                  "unix:/PATH")
    p.add_argument("--record", metavar="FILE",
                   help="keep each connection: a session of FILE, or one file each when FILE "
                        "has {n} in its name")
    p.add_argument("--append", action="store_true", help="add the sessions to FILE's end")
    p.add_argument("--format", choices=("transcript", "json"), default="transcript",
                   help="the record's form (json: the decoded events as JSON lines; "
                        "without --record, the live view's)")
    p.add_argument("--max-literal", type=int, default=None, metavar="BYTES",
                   help="keep message bodies up to this size in the record (default 4 MiB)")
    p.add_argument("--host", metavar="NAME[=TARGET]",
                   help="how the record names the server: `$ ssh NAME sync_server`, "
                        "and `%%host NAME = TARGET` (default: replica, and the --to or "
                        "exec: target)")
    p.add_argument("--log", metavar="FILE", help="the live view goes here (default: the "
                                                 "terminal; stderr with --exec)")
    p.add_argument("-q", "--quiet", action="store_true", help="no live view")
    p.add_argument("--no-color", action="store_true", help="no colour in the live view "
                                                          "(NO_COLOR works too)")
    p.add_argument("--connections", type=int, metavar="N",
                   help="stop after N connections have ended (default: until Ctrl-C)")
    p.add_argument("--no-starttls", action="store_true",
                   help="remove STARTTLS from the greeting the client sees (a test pair)")
    p.add_argument("--tls-cert", metavar="FILE", help="end TLS from the client with this "
                                                      "certificate (and --tls-key)")
    p.add_argument("--tls-key", metavar="FILE", help="the private key of --tls-cert")
    p.add_argument("--insecure", action="store_true",
                   help="with --tls-cert: do not verify the server's certificate")
    p.add_argument("--timeout", type=positive_seconds, default=30.0, metavar="SECONDS",
                   help="longest wait to connect to the target")
    return p


def run(argv: list[str], env) -> ExitStatus | int:
    """With --exec the tap stands where a sync_server would: it ends with the server
    command's own status, whatever number that is (as ssh hands back the remote one's)."""
    args = parse(parser(), argv, env)
    from syncsh.tap import session
    status = session.start(args, env)
    return ExitStatus(status) if status in iter(ExitStatus) else status

