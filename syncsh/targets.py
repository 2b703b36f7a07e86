"""Target strings: where a session goes (FORMS lists them, for every help that names them)."""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from typing import Callable, Mapping

from syncsh.errors import UsageError

SCHEMES = ("demo:", "exec:", "ssh://", "csync://", "unix:", "cyrus:")

# every target form with what it opens: `syncsh --help`, \help target
FORMS = (
    ("demo:NAME", "the demo pair in the data directory (demo:cyrus-1, demo:cyrus-2); "
                  "writes go through"),
    ("exec:COMMAND", "a local command speaking the protocol on stdin/stdout"),
    ("ssh://[USER@]HOST[:PORT][/PATH]", "PATH (default sync_server) run over SSH "
                                        "(--remote-command for arguments)"),
    ("csync://USER@HOST[:PORT]", "a Cyrus sync_server over TCP (port 2005), SASL login as "
                                 "USER, STARTTLS when offered"),
    ("unix:PATH", "a sync_server listening on a UNIX socket"),
    ("cyrus:IMAPD.CONF", "the local Cyrus' sync_server, run with that imapd.conf"),
    ("NAME", "a target named in the config file (--config)"),
)
CSYNC_PORT = 2005
SYNC_SERVER = "/usr/lib/cyrus/bin/sync_server"


@dataclass
class TargetOptions:
    remote_command: str | None = None
    ssh_config: str | None = None
    ssh_backend: str = "paramiko"
    config_file: str | None = None
    interactive: bool = False
    ask: object = None                 # question -> bool (host keys)
    secret: object = None              # prompt -> str, no echo (passphrases, passwords)
    timeout: float = 30.0
    password_file: str | None = None   # csync://: never a password on the command line
    sasl_mech: str | None = None
    insecure: bool = False             # STARTTLS without certificate verification
    via: str | None = None             # csync:// through an SSH jump host
    compress: bool = True
    deadline: float | None = None      # a whole reply's bound (None: 20 x timeout; 0: none)
    max_line: int = 8 << 20            # the longest reply line (bytes) held
    max_greeting_lines: int = 1000     # lines a server may send before its banner
    tls: str | None = None             # csync://: require, prefer (None) or off
    credentials: bool = True           # False: a target a transcript chose gets no password,
                                       # key or agent (only one the user named does)

    # the command's environment variables (the data directory, SYNCSH_PASSWORD): the front
    # end's Environment's; this process's when None
    environ: Mapping[str, str] | None = None
    # a one-line warning (the front end's stderr; this process's when none is given)
    warn: Callable[[str], None] = field(default=lambda text: print(
        f"syncsh: warning: {text}", file=sys.stderr))


@dataclass
class Target:
    text: str
    scheme: str
    argv: list[str] = field(default_factory=list)
    store_path: str | None = None      # demo: the store directory (`store`: made if need be)
    host: str | None = None            # ssh: alias, user, port, remote command
    user: str | None = None
    port: int | None = None
    command: str | None = None
    read_only: bool = False            # a named target that must never be written to
    url: str | None = None             # a named target's URL (its text is its name)
    in_process: bool = True            # demo: serve the store inside this process (fast start)
    options: TargetOptions = field(default_factory=TargetOptions)
    pair_unmade: bool = False          # demo: the user's own pair, not looked for yet

    @property
    def is_demo(self) -> bool:
        return self.scheme == "demo"

    @property
    def store(self) -> str | None:
        """The demo store's directory, ready to be read (whoever reads a store by its path,
        not through a session: diff's master, replicate's same-store check, recordings)."""
        self.ensure_store()
        return self.store_path

    def ensure_store(self) -> None:
        """The user's demo pair is made the first time a target on it is used, not when its
        string is read (parsing makes nothing on disk: a mistyped command must not leave a
        data directory behind, nor a test that only parses)."""
        if self.pair_unmade:
            from syncsh import demo
            demo.ensure_pair(os.path.dirname(self.store_path), self.options.environ)
            self.pair_unmade = False

    @property
    def opens_quietly(self) -> bool:
        """Whether opening can never ask anything on the terminal (a host key, a password):
        only a demo pair served inside this process."""
        return self.scheme == "demo" and self.in_process

    @property
    def needs_login(self) -> bool:
        return self.scheme == "csync"

    def open(self, *, on_stderr=None, server_verbosity: int = 0):
        if self.scheme == "ssh":
            return self._open_ssh(on_stderr)
        if self.scheme == "csync":
            return self._open_tcp()
        if self.scheme == "unix":
            from syncsh.transport.socket import SocketTransport
            return SocketTransport.unix(self.host, self.options.timeout, self.text)
        if self.scheme == "cyrus":
            from syncsh.transport.process import ProcessTransport
            from syncsh.private import child_env
            env = child_env({"CYRUS_SERVICE": "csync", "CYRUS_ID": "0"}, self.options.environ)
            argv = [SYNC_SERVER, "-C", self.host, "-X"]
            if os.geteuid() == 0:
                argv = ["runuser", "-u", "cyrus", "--", "env", "CYRUS_SERVICE=csync",
                        "CYRUS_ID=0"] + argv
            return ProcessTransport(argv, env=env, on_stderr=on_stderr, name=self.text)
        if self.scheme == "demo" and self.in_process:
            from syncsh.transport.inprocess import InProcessTransport
            return InProcessTransport(self.store, on_stderr=on_stderr,
                                      verbosity=server_verbosity, name=self.text)
        from syncsh.transport.process import ProcessTransport
        argv = list(self.argv)
        if self.scheme == "demo" and server_verbosity:
            argv += ["-v"] * server_verbosity
        return ProcessTransport(argv, on_stderr=on_stderr, name=self.text,
                                env=_child_env(self.options))

    def _open_ssh(self, on_stderr):
        options = self.options
        if not options.credentials:
            raise UsageError(f"{self.text}: a transcript chose this SSH target, and it is "
                             "offered no keys: name it yourself with --host NAME=TARGET")
        if options.ssh_backend == "openssh":
            from syncsh.transport.process import ProcessTransport
            argv = ["ssh", "-T", "-x", "-o", f"ConnectTimeout={int(options.timeout)}"]
            if not options.interactive:
                argv += ["-o", "BatchMode=yes"]
            if options.ssh_config:
                argv += ["-F", options.ssh_config]
            if self.port:
                argv += ["-p", str(self.port)]
            if self.user:
                argv += ["-l", self.user]
            argv += [self.host, self.command]
            return ProcessTransport(argv, on_stderr=on_stderr, name=self.text,
                                env=_child_env(self.options))
        from syncsh.transport.ssh import SSHOptions, SSHTransport
        ssh_options = SSHOptions(config_file=options.ssh_config, interactive=options.interactive,
                                 timeout=options.timeout)
        ssh_options.ask, ssh_options.secret, ssh_options.warn = \
            options.ask, options.secret, options.warn
        return SSHTransport(self.host, self.command, ssh_options, user=self.user, port=self.port,
                            on_stderr=on_stderr, name=self.text)


    def _open_tcp(self):
        from syncsh.transport.socket import SocketTransport
        options = self.options
        if options.via:
            from syncsh.transport import ssh as sshmod
            via = parse_target(options.via, options=options)
            if via.scheme != "ssh":
                raise UsageError(f"--via {options.via!r}: expected ssh://[user@]host[:port]")
            ssh_options = sshmod.SSHOptions(config_file=options.ssh_config,
                                            interactive=options.interactive,
                                            timeout=options.timeout)
            ssh_options.ask, ssh_options.secret, ssh_options.warn = \
                options.ask, options.secret, options.warn
            jump = sshmod.connect(via.host, ssh_options, user=via.user, port=via.port)
            try:
                channel = jump.open_channel("direct-tcpip", (self.host, self.port),
                                            ("127.0.0.1", 0), timeout=options.timeout)
            except Exception as exc:
                jump.close()
                raise sshmod.ConnectionLost(f"cannot reach {self.host}:{self.port} through "
                                            f"{options.via}: {exc}") from None
            return SocketTransport(channel, self.text, on_close=jump.close)
        return SocketTransport.tcp(self.host, self.port, options.timeout, self.text)


def _child_env(options: TargetOptions) -> dict:
    """A child's environment (the command's variables): never syncsh's secrets; for a
    command a transcript chose, not the SSH agent either."""
    from syncsh.private import child_env
    env = child_env(environ=options.environ)
    if not options.credentials:
        env.pop("SSH_AUTH_SOCK", None)
    return env


def server_argv(store: str) -> list[str]:
    return [sys.executable, "-m", "syncsh", "server", "--store", store]


def parse_target(text: str, *, demo_dir: str | None = None,
                 options: TargetOptions | None = None) -> Target:
    """A target string to a Target; a one-line UsageError when it cannot be one."""
    options = options or TargetOptions()
    if not text or text.strip() != text:
        raise UsageError(f"bad target {text!r}: empty or surrounded by spaces")
    if not text.startswith(SCHEMES):
        return _named(text, demo_dir, options)
    if text.startswith("ssh://"):
        return _ssh(text, options)
    if text.startswith("csync://"):
        return _csync(text, options)
    if text.startswith(("unix:", "cyrus:")):
        scheme, _, path = text.partition(":")
        if not path:
            raise UsageError(f"bad target {text!r}: {scheme}: needs a path")
        if scheme == "cyrus" and not os.path.exists(path):
            raise UsageError(f"bad target {text!r}: no imapd.conf at {path}")
        return Target(text, scheme, host=path, options=options)
    scheme, _, rest = text.partition(":")
    if scheme == "demo":
        from syncsh import demo
        if rest not in demo.NAMES:
            raise UsageError(f"bad target {text!r}: the demo has {' and '.join(demo.NAMES)}")
        # the path only: the user's pair (not one a caller names) is made on first use
        store = os.path.join(demo_dir or demo.pair_dir(options.environ), rest)
        return Target(text, "demo", server_argv(store), store, options=options,
                      pair_unmade=demo_dir is None)
    try:
        argv = shlex.split(rest)
    except ValueError as exc:
        raise UsageError(f"bad target {text!r}: {exc}") from None
    if not argv:
        raise UsageError(f"bad target {text!r}: exec: needs a command")
    return Target(text, "exec", argv, options=options)


def _ssh(text: str, options: TargetOptions) -> Target:
    user, host, port, path = _authority(text, text[len("ssh://"):])
    command = options.remote_command or (("/" + path) if path else "sync_server")
    return Target(text, "ssh", host=host, user=user, port=port, command=command,
                  options=options)


def _authority(text: str, rest: str) -> tuple[str | None, str, int | None, str]:
    """user, host, port and path of scheme://[user@]host[:port][/path]."""
    authority, slash, path = rest.partition("/")
    user, at, hostport = authority.rpartition("@")
    if at and not user:
        raise UsageError(f"bad target {text!r}: empty user name")
    host, port_text = hostport, ""
    if hostport.startswith("["):                  # an IPv6 address: [::1]:2005
        host, bracket, tail = hostport[1:].partition("]")
        if not bracket or (tail and not tail.startswith(":")):
            raise UsageError(f"bad target {text!r}: an IPv6 address is written [ADDRESS]:PORT")
        port_text = tail[1:]
        if tail == ":":
            raise UsageError(f"bad target {text!r}: empty port")
    elif hostport.count(":") == 1:
        host, _, port_text = hostport.partition(":")
        if not port_text:
            raise UsageError(f"bad target {text!r}: empty port")
    port = None
    if port_text:
        if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
            raise UsageError(f"bad target {text!r}: bad port {port_text!r}")
        port = int(port_text)
    if not host or any(c.isspace() for c in host):
        raise UsageError(f"bad target {text!r}: no host")
    return user or None, host, port, path if slash else ""


def _csync(text: str, options: TargetOptions) -> Target:
    user, host, port, path = _authority(text, text[len("csync://"):])
    if path:
        raise UsageError(f"bad target {text!r}: csync:// takes no path")
    if user is None:
        raise UsageError(f"bad target {text!r}: name the Cyrus administrator: csync://USER@{host}")
    return Target(text, "csync", host=host, user=user, port=port or CSYNC_PORT, options=options)


def _named(text: str, demo_dir, options: TargetOptions) -> Target:
    from syncsh import config as configuration
    config = configuration.load(options.config_file)
    named = config.targets.get(text)
    if named is None:
        known = ", ".join(sorted(config.targets)) or "none configured"
        raise UsageError(f"bad target {text!r}: none of {', '.join(SCHEMES)} and no such "
                         f"named target ({known}; syncsh --help lists the forms)")
    if not named.url.startswith(SCHEMES):
        raise UsageError(f"named target {text!r}: {named.url!r} is not a target URL")
    if named.remote_command and not options.remote_command:
        options = TargetOptions(**{**options.__dict__, "remote_command": named.remote_command})
    if named.tls and not options.tls:             # (--tls on the command line wins)
        options = TargetOptions(**{**options.__dict__, "tls": named.tls})
    target = parse_target(named.url, demo_dir=demo_dir, options=options)
    target.text, target.url = text, named.url
    target.read_only = named.read_only
    return target


def expected_dialect(target) -> str | None:
    """The dialect a target speaks, where its kind tells (None: only the banner will)."""
    if target.scheme in ("csync", "unix", "cyrus"):
        return "csync"
    return "seed" if target.scheme == "demo" else None
