"""What a diff is asked to compare, read from its words: `syncsh diff` and the console's
\\diff read them with the same parser, and the ends and users resolved here (a named
pair, --users-from) before anything connects."""

from __future__ import annotations

from syncsh.errors import UsageError


def parser():
    from syncsh.argparsing import Parser, positive_seconds
    from syncsh.options import add_connection_options, add_format_option
    p = Parser(prog="syncsh diff", description="Compare a master and a replica; change nothing.")
    p.add_argument("ends", nargs="+", metavar="TARGET",
                   help="MASTER REPLICA, or the name of a pair in the config (syncsh "
                        "--help lists the target forms)")
    p.add_argument("--user", "-u", action="append", default=[], metavar="USER",
                   help="compare this user's mailboxes, seen state, subscriptions, sieve and "
                        "quota (repeatable)")
    p.add_argument("--users-from", metavar="FILE", help="users, one a line (# comments)")
    p.add_argument("--mailbox", "-m", action="append", default=[], metavar="MAILBOX",
                   help="compare this mailbox (repeatable)")
    p.add_argument("--full", action="store_true",
                   help="also sizes, mailbox annotations and message bodies against their GUIDs")
    p.add_argument("--expunged", action="store_true",
                   help="count expunged records that Cyrus keeps")
    p.add_argument("--recheck", type=positive_seconds, metavar="SECONDS",
                   help="look again after SECONDS before calling a difference divergence")
    p.add_argument("--master-store", metavar="DIR",
                   help="documented dialect: the master's store, for the suggested replicate")
    p.add_argument("--all-rows", action="store_true",
                   help="text: every finding's row (by default 20 of a kind a mailbox)")
    audit = p.add_argument_group("whole-server audits")
    audit.add_argument("--all-users", action="store_true",
                       help="every user of the master (from a cyrus:CONF master, --imap, or "
                            "the master's store)")
    audit.add_argument("--imap", metavar="URL",
                       help="imap://ADMIN@HOST or imaps://…: where --all-users lists the users")
    audit.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                       help="skip users matching this shell pattern (repeatable)")
    audit.add_argument("--jobs", type=int, default=4, metavar="N",
                       help="sessions to each end at once (1 to 16; default 4)")
    audit.add_argument("--rate", type=float, metavar="USERS",
                       help="at most this many users a second")
    audit.add_argument("--state", metavar="FILE",
                       help="record each finished user; a rerun with it resumes")
    add_format_option(p, ("table", "json"),
                      "table (default), or JSON lines: one object a finding, then a summary "
                      "(docs/json.md)")
    add_connection_options(p)
    return p


def read_users(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return [line.strip() for line in handle
                    if line.strip() and not line.lstrip().startswith("#")]
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def resolve(args, env=None):
    """(master, replica, users, pair) for these options: a pair's name is looked up in the
    config, and the targets parsed (nothing connects yet)."""
    from syncsh import config as configuration
    from syncsh.options import target_options
    from syncsh.targets import parse_target
    users = list(args.user)
    if args.users_from:
        users += read_users(args.users_from)
    pair = None
    config_file = args.config or (env.config_file if env is not None else None)
    if len(args.ends) == 1:
        pair = configuration.load(config_file).pairs.get(args.ends[0])
        if pair is None:
            raise UsageError(f"no pair {args.ends[0]!r} in the config: give MASTER REPLICA")
        master_text, replica_text = pair.master, pair.replica
        users = users or list(pair.users)
        args.all_users = args.all_users or (pair.all_users and not users)
    elif len(args.ends) == 2:
        master_text, replica_text = args.ends
    else:
        raise UsageError("diff MASTER REPLICA, or diff PAIR")
    if args.all_users and (users or args.mailbox):
        raise UsageError("--all-users, or named users and mailboxes: not both")
    if not users and not args.mailbox and not args.all_users:
        raise UsageError("which users? --user U, --users-from FILE, --mailbox M or a pair's users")
    options = target_options(args, env, interactive=False)
    master = parse_target(master_text, options=options)
    replica = parse_target(replica_text, options=options)
    if (master.url or master.text) == (replica.url or replica.text) or \
            (master.store and master.store == replica.store):   # (two names, one URL too)
        raise UsageError(f"the master and the replica are both {master.text}: diff compares "
                         "two ends")
    return master, replica, users, pair
