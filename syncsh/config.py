"""The user's configuration: named targets, master/replica pairs, per-target settings.

    # ~/.config/syncsh/config.toml  (--config FILE overrides)
    [targets]
    cyrus-2 = "ssh://cyrus@replica.example.org/usr/lib/cyrus/bin/sync_server"

    [targets.replica-tls]
    url = "csync://admin@replica.example.org"
    tls = "require"                 # as --tls: require, prefer (the default) or off

    [targets.replica-ro]
    url = "ssh://replica.example.org"
    remote_command = "sync_server -C /etc/imapd.conf"
    read_only = true

    [pairs.main]
    master = "cyrus-1"
    replica = "cyrus-2"
    users = ["dpc22", "alice"]          # or: all_users = true
    imap = "imap://admin@master.example.org"   # where all_users lists them
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field

from syncsh.errors import UsageError


@dataclass
class NamedTarget:
    name: str
    url: str
    read_only: bool = False
    remote_command: str | None = None
    tls: str | None = None             # require, prefer or off (csync:// targets)


@dataclass
class Pair:
    name: str
    master: str
    replica: str
    users: list[str] = field(default_factory=list)
    all_users: bool = False
    imap: str | None = None


@dataclass
class Config:
    path: str | None = None
    targets: dict[str, NamedTarget] = field(default_factory=dict)
    pairs: dict[str, Pair] = field(default_factory=dict)


def default_path() -> str:
    from platformdirs import user_config_dir
    return os.path.join(user_config_dir("syncsh", appauthor=False), "config.toml")


def load(path: str | None = None) -> Config:
    explicit = path is not None
    path = path or os.environ.get("SYNCSH_CONFIG") or default_path()
    if not os.path.exists(path):
        if explicit:
            raise UsageError(f"no config file {path}")
        return Config()
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: {exc}") from None
    return parse(data, path)


def parse(data: dict, path: str = "<config>") -> Config:
    config = Config(path)
    targets = data.get("targets", {})
    if not isinstance(targets, dict):
        raise UsageError(f"{path}: [targets] must be a table")
    for name, value in targets.items():
        if isinstance(value, str):
            config.targets[name] = NamedTarget(name, value)
        elif isinstance(value, dict) and isinstance(value.get("url"), str):
            unknown = set(value) - {"url", "read_only", "remote_command", "tls"}
            if unknown:
                raise UsageError(f"{path}: targets.{name}: unknown key(s) {', '.join(sorted(unknown))}")
            if not isinstance(value.get("read_only", False), bool):
                raise UsageError(f"{path}: targets.{name}.read_only must be true or false")
            command = value.get("remote_command")
            if command is not None and not isinstance(command, str):
                raise UsageError(f"{path}: targets.{name}.remote_command must be a string")
            tls = value.get("tls")
            if tls is not None and tls not in ("require", "prefer", "off"):
                raise UsageError(f'{path}: targets.{name}.tls must be "require", "prefer" or '
                                 '"off"')
            config.targets[name] = NamedTarget(name, value["url"], value.get("read_only", False),
                                               command, tls)
        else:
            raise UsageError(f"{path}: targets.{name} must be a URL or a table with url")
    pairs = data.get("pairs", {})
    if not isinstance(pairs, dict):
        raise UsageError(f"{path}: [pairs] must be a table")
    for name, value in pairs.items():
        if not isinstance(value, dict) or not all(isinstance(value.get(k), str)
                                                  for k in ("master", "replica")):
            raise UsageError(f"{path}: pairs.{name} needs master and replica")
        users = value.get("users", [])
        if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
            raise UsageError(f"{path}: pairs.{name}.users must be a list of strings")
        if not isinstance(value.get("all_users", False), bool):
            raise UsageError(f"{path}: pairs.{name}.all_users must be true or false")
        if not isinstance(value.get("imap", ""), str):
            raise UsageError(f"{path}: pairs.{name}.imap must be an imap:// URL")
        config.pairs[name] = Pair(name, value["master"], value["replica"], users,
                                  value.get("all_users", False), value.get("imap"))
    return config
