"""The one options module: the options commands share (the console's format, guard rail
and REPL options, how to reach a target and read its replies) and the TargetOptions they
make.  Commands' own parsers and the REPL's \\diff build on it."""

from __future__ import annotations

import argparse

from syncsh.argparsing import positive_seconds, seconds, size


class Ordered(argparse.Action):
    """-c and -f keep their relative order on the command line."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = getattr(namespace, "script", None) or []
        items.append((self.dest, values))
        namespace.script = items


def add_client_options(p: argparse.ArgumentParser) -> None:
    """Everything a console takes: the reply format, the guard rail, the REPL's own, and how
    to reach a target."""
    add_format_option(p, ("table", "raw", "json"),
                      "reply format (default: table on a terminal, raw when piped); json: "
                      "JSON lines, one schema per type (docs/json.md)")
    add_guard_options(p.add_argument_group("writes"))
    repl = p.add_argument_group("the interactive console")
    repl.add_argument("--no-pager", action="store_true",
                      help="never page long output (\\pager on|off|auto in the console)")
    repl.add_argument("--lock-idle", type=seconds, default=300.0, metavar="SECONDS",
                      help="send ENDUSER when a user lock has been held idle this long "
                           "(default 300; 0: never)")
    add_connection_options(p)


def add_format_option(p, choices, help_text: str) -> None:
    p.add_argument("--format", choices=choices, help=help_text)


def add_guard_options(p) -> None:
    guard = p.add_mutually_exclusive_group()
    guard.add_argument("--allow-writes", action="store_true",
                       help="let commands that change the replica through on non-demo targets "
                            "without asking")
    guard.add_argument("--read-only", action="store_true",
                       help="refuse every write, from every command")


def add_connection_options(p: argparse.ArgumentParser) -> None:
    """How to reach a target and read its replies: every command that opens one takes these."""
    p.add_argument("--no-color", action="store_true", help="no colour (NO_COLOR works too)")
    p.add_argument("--debug", action="store_true", help="tracebacks for errors")
    p.add_argument("--config", metavar="FILE", help="named targets and pairs (default: the "
                                                   "user's config.toml)")
    wire = p.add_argument_group("the connection")
    wire.add_argument("--timeout", type=positive_seconds, default=30.0, metavar="SECONDS",
                      help="idle timeout: the longest wait for the server's next bytes "
                           "(default 30)")
    wire.add_argument("--deadline", type=seconds, default=None, metavar="SECONDS",
                      help="overall bound on one whole reply, however it trickles in "
                           "(default 20 x --timeout; 0: none)")
    wire.add_argument("--max-line", type=size, default=8 << 20, metavar="BYTES",
                      help="longest reply line kept; a longer one is skipped with an error "
                           "(default 8M; K, M, G suffixes)")
    wire.add_argument("--max-greeting-lines", type=int, default=1000, metavar="N",
                      help="most lines a server may send before its banner (default 1000)")
    wire.add_argument("--dialect", choices=("seed", "2005", "2.3", "csync"),
                      help="override the dialect detected from the banner")
    ssh = p.add_argument_group("ssh:// targets")
    ssh.add_argument("--remote-command", metavar="CMD",
                     help="the command to run remotely (with arguments)")
    ssh.add_argument("--ssh-config", metavar="FILE", help="instead of ~/.ssh/config")
    ssh.add_argument("--ssh-backend", choices=("paramiko", "openssh"), default="paramiko",
                     help="paramiko (default) or the system's ssh -T")
    csync = p.add_argument_group("csync:// targets")
    csync.add_argument("--password-file", metavar="FILE",
                       help="read the password here (or SYNCSH_PASSWORD; never argv)")
    csync.add_argument("--sasl-mech", metavar="MECH", help="PLAIN, LOGIN or SCRAM-SHA-256")
    csync.add_argument("--tls", choices=("require", "prefer", "off"),
                       help="require: refuse a server without STARTTLS; prefer (default): "
                            "TLS when offered, else no clear-text password but to loopback; "
                            "off: never TLS")
    csync.add_argument("--insecure", action="store_true",
                       help="STARTTLS without verifying the certificate")
    csync.add_argument("--via", metavar="ssh://JUMP", help="tunnel through this SSH host")
    csync.add_argument("--no-compress", action="store_true", help="no COMPRESS DEFLATE")


def target_forms_help() -> str:
    from syncsh.targets import FORMS
    import textwrap
    lines = ["targets:"]
    for form, meaning in FORMS:
        lines.append(f"  {form}")
        lines += textwrap.wrap(meaning, 76, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)


def target_options(args, env=None, *, interactive: bool):
    """How to reach a target, from the options given; the questions (the host key, a
    password) go to the environment's prompts, and only when there is someone to ask."""
    from syncsh.targets import TargetOptions
    config_file = args.config or (env.config_file if env is not None else None)
    options = TargetOptions(remote_command=args.remote_command, ssh_config=args.ssh_config,
                            ssh_backend=args.ssh_backend, config_file=config_file,
                            interactive=interactive, timeout=args.timeout,
                            password_file=getattr(args, "password_file", None),
                            sasl_mech=getattr(args, "sasl_mech", None),
                            insecure=getattr(args, "insecure", False),
                            via=getattr(args, "via", None),
                            compress=not getattr(args, "no_compress", False),
                            deadline=getattr(args, "deadline", None),
                            max_line=getattr(args, "max_line", 8 << 20),
                            max_greeting_lines=getattr(args, "max_greeting_lines", 1000),
                            tls=getattr(args, "tls", None))
    if env is not None:
        options.warn = lambda text: env.warn(f"syncsh: warning: {text}")
        options.environ = env.environ
    if interactive:
        if env is None:
            from syncsh.environment import Environment
            env = Environment.of_process()
        options.ask = env.ask
        options.secret = env.secret
    return options
