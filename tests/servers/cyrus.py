"""A real Cyrus IMAP 3.6 master/replica pair on loopback, for the tests and benchmarks.

Debian's cyrus-imapd is installed when missing (as root); both instances live under one
directory, listen on free ports chosen when they start, and are stopped (every process that
names their configuration) when the pair is destroyed. `sync_client` on the master pushes to
the replica's `sync_server` over TCP, as in production.

By hand (as root), for the README's examples:

    python3 tests/servers/cyrus.py -d /tmp/pair start      # prints the pair's settings
    python3 tests/servers/cyrus.py -d /tmp/pair seed alice 20
    python3 tests/servers/cyrus.py -d /tmp/pair sync alice
    python3 tests/servers/cyrus.py -d /tmp/pair destroy
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

if __package__ in (None, ""):          # run as a script: python3 tests/servers/cyrus.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from servers.host import FixtureError, alive, free_ports, install, listening, pids_naming
from servers.seeding import PASSWORD, SeedError, append_messages

CYRUS_BIN = "/usr/lib/cyrus/bin"
PACKAGES = ("cyrus-imapd", "cyrus-replication", "cyrus-admin", "sasl2-bin")
SIDES = ("master", "replica")
ADMIN = "admin"
SYNC_TIMEOUT = 120          # sync_client retries for ever when it cannot connect
START_TIMEOUT = 30


class PairError(FixtureError):
    pass


class CyrusPair:
    """One master and one replica under `directory` (short: UNIX socket paths are limited).

    Settings are written to DIR/pair.json at start, so the command line can reopen a pair."""

    def __init__(self, directory: str, *, extra_conf: str = "",
                 sasl_mechs: str = "PLAIN LOGIN", start: bool = True) -> None:
        self.dir = os.path.abspath(directory)
        if len(self.dir) > 70:
            raise PairError(f"{self.dir}: too long for the pair's UNIX socket paths")
        self.extra_conf = extra_conf
        self.sasl_mechs = sasl_mechs
        self.ports: dict[str, int] = {}
        saved = os.path.join(self.dir, "pair.json")
        if os.path.exists(saved):
            with open(saved) as handle:
                state = json.load(handle)
            self.ports, self.extra_conf, self.sasl_mechs = (
                state["ports"], state["extra_conf"], state["sasl_mechs"])
        if start:
            self.start()

    # -- layout ---------------------------------------------------------------------------
    def side_dir(self, side: str) -> str:
        return os.path.join(self.dir, side)

    def conf(self, side: str) -> str:
        return os.path.join(self.dir, side, "imapd.conf")

    def socket(self, side: str, name: str = "csync") -> str:
        return os.path.join(self.dir, side, "run", "socket", name)

    @property
    def master_conf(self) -> str: return self.conf("master")
    @property
    def replica_conf(self) -> str: return self.conf("replica")
    @property
    def master_socket(self) -> str: return self.socket("master")
    @property
    def replica_socket(self) -> str: return self.socket("replica")
    @property
    def master_port(self) -> int: return self.ports["master_csync"]
    @property
    def replica_port(self) -> int: return self.ports["replica_csync"]
    @property
    def master_imap(self) -> int: return self.ports["master_imap"]
    @property
    def replica_imap(self) -> int: return self.ports["replica_imap"]

    @property
    def vars(self) -> dict[str, str]:
        """The pair's settings as environment-style names (what `env` prints)."""
        out = {"CYRUS_PAIR_DIR": self.dir, "CYRUS_HOST": "127.0.0.1",
               "CYRUS_ADMIN_USER": ADMIN, "CYRUS_ADMIN_PASSWORD": PASSWORD,
               "CYRUS_BIN": CYRUS_BIN, "CYRUS_SYSLOG": os.path.join(self.dir, "syslog.log")}
        for side in SIDES:
            upper = side.upper()
            out[f"CYRUS_{upper}_IMAP_PORT"] = str(self.ports.get(f"{side}_imap", ""))
            out[f"CYRUS_{upper}_CSYNC_PORT"] = str(self.ports.get(f"{side}_csync", ""))
            out[f"CYRUS_{upper}_CONF"] = self.conf(side)
            out[f"CYRUS_{upper}_CSYNC_SOCKET"] = self.socket(side)
            out[f"CYRUS_{upper}_LMTP_SOCKET"] = self.socket(side, "lmtp")
            out[f"CYRUS_{upper}_SPOOL"] = os.path.join(self.side_dir(side), "spool")
            out[f"CYRUS_{upper}_SYNC_SERVER_STDIO"] = " ".join(self.sync_server_stdio(side))
        return out

    def sync_server_stdio(self, side: str) -> list[str]:
        """The sync_server on stdin/stdout, as ssh reaches it: pre-authenticated."""
        return ["runuser", "-u", "cyrus", "--", "env", "CYRUS_SERVICE=csync", "CYRUS_ID=0",
                f"{CYRUS_BIN}/sync_server", "-C", self.conf(side), "-X"]

    def imapd_conf(self, side: str) -> str:
        base = self.side_dir(side)
        lines = [
            f"servername: {side}.syncsh-test", f"configdirectory: {base}/config",
            "defaultpartition: default", f"partition-default: {base}/spool",
            f"proc_path: {base}/run/proc", f"mboxname_lockpath: {base}/run/lock",
            f"lmtpsocket: {base}/run/socket/lmtp", f"idlesocket: {base}/run/socket/idle",
            f"notifysocket: {base}/run/socket/notify", f"sievedir: {base}/sieve",
            "sieveusehomedir: false", f"admins: {ADMIN}", "allowplaintext: yes",
            "sasl_pwcheck_method: auxprop", "sasl_auxprop_plugin: sasldb",
            f"sasl_sasldb_path: {base}/sasldb2", f"sasl_mech_list: {self.sasl_mechs}",
            "altnamespace: no", "unixhierarchysep: no", "virtdomains: off",
            "hashimapspool: true", "umask: 077", f"syslog_prefix: syncsh-{side}",
            "master_bind_errors_fatal: yes",
            "failedloginpause: 0",          # else a failed AUTHENTICATE answers after 3 s
            "sync_timeout: 5m",
        ]
        if side == "master":
            lines += ["sync_log: yes", "sync_host: 127.0.0.1",
                      f"sync_port: {self.ports['replica_csync']}",
                      "sync_try_imap: no",  # else every sync waits ~10 s on a CAPABILITY
                      f"sync_authname: {ADMIN}", f"sync_password: {PASSWORD}",
                      "sync_reconnect_maxwait: 15s"]
        return "\n".join(lines) + "\n" + (self.extra_conf + "\n" if self.extra_conf else "")

    def cyrus_conf(self, side: str) -> str:
        conf, base = self.conf(side), self.side_dir(side)
        imap, csync = self.ports[f"{side}_imap"], self.ports[f"{side}_csync"]
        return (f'START {{\n  recover cmd="{CYRUS_BIN}/ctl_cyrusdb -C {conf} -r"\n}}\n'
                "SERVICES {\n"
                f'  imap cmd="{CYRUS_BIN}/imapd -C {conf}" listen="127.0.0.1:{imap}" prefork=0\n'
                f'  csync cmd="{CYRUS_BIN}/sync_server -C {conf}" listen="127.0.0.1:{csync}" prefork=0\n'
                f'  csyncunix cmd="{CYRUS_BIN}/sync_server -C {conf}" '
                f'listen="{base}/run/socket/csync" prefork=0\n'
                f'  lmtpunix cmd="{CYRUS_BIN}/lmtpd -C {conf}" listen="{base}/run/socket/lmtp" prefork=0\n'
                "}\n"
                f'EVENTS {{\n  checkpoint cmd="{CYRUS_BIN}/ctl_cyrusdb -C {conf} -c" period=30\n}}\n')

    def write_side(self, side: str) -> None:
        base = self.side_dir(side)
        for sub in ("config/db", "config/proc", "config/socket", "config/log", "config/sync",
                    "config/user", "config/quota", "config/lock", "config/msg", "spool",
                    "sieve", "run/proc", "run/lock", "run/socket"):
            os.makedirs(os.path.join(base, sub), exist_ok=True)
        for name, text in (("imapd.conf", self.imapd_conf(side)),
                           ("cyrus.conf", self.cyrus_conf(side))):
            with open(os.path.join(base, name), "w") as handle:
                handle.write(text)
            os.chmod(os.path.join(base, name), 0o644)
        self.set_password(side, ADMIN)
        os.chmod(self.dir, 0o755)
        os.chmod(base, 0o755)
        subprocess.run(["chown", "-R", "cyrus:mail", *(os.path.join(base, sub) for sub in
                                                      ("config", "spool", "sieve", "run"))],
                       check=True)

    def set_password(self, side: str, user: str) -> None:
        """sasldb accounts: SASL logins are not replicated, so each side has its own."""
        sasldb = os.path.join(self.side_dir(side), "sasldb2")
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", sasldb, "-u",
                        f"{side}.syncsh-test", user], input=PASSWORD.encode(), check=True)
        shutil.chown(sasldb, "cyrus", "mail")
        os.chmod(sasldb, 0o640)

    # -- processes ------------------------------------------------------------------------
    def pidfile(self, side: str) -> str:
        return os.path.join(self.side_dir(side), "run", "master.pid")

    def master_pid(self, side: str) -> int | None:
        try:
            with open(self.pidfile(side)) as handle:
                pid = int(handle.read().strip() or 0)
        except (OSError, ValueError):
            return None
        return pid if pid and alive(pid) else None

    def running(self) -> bool:
        return all(self.master_pid(side) for side in SIDES)

    def start(self) -> None:
        if os.geteuid() != 0:
            raise PairError("a Cyrus pair needs root (its master drops to the cyrus user)")
        install(PACKAGES)
        if self.ports and self.running():
            return
        for attempt in range(3):           # a port taken between choosing and binding
            if not self.ports or attempt:
                names = [f"{side}_{service}" for side in SIDES for service in ("imap", "csync")]
                self.ports = dict(zip(names, free_ports(len(names))))
            os.makedirs(self.dir, exist_ok=True)
            self.save()
            self.start_syslog()
            try:
                for side in SIDES:
                    self.write_side(side)
                    self.start_side(side)
                self.wait_ready()
                return
            except PairError:
                self.stop()
                if attempt == 2:
                    raise

    def save(self) -> None:
        with open(os.path.join(self.dir, "pair.json"), "w") as handle:
            json.dump({"ports": self.ports, "extra_conf": self.extra_conf,
                       "sasl_mechs": self.sasl_mechs}, handle)

    def start_side(self, side: str) -> None:
        base = self.side_dir(side)
        for name in ("csync", "lmtp"):
            if os.path.exists(self.socket(side, name)):
                os.unlink(self.socket(side, name))
        # -d: the master daemonises once its pid file is written
        subprocess.run([f"{CYRUS_BIN}/master", "-C", self.conf(side), "-M",
                        os.path.join(base, "cyrus.conf"), "-p", self.pidfile(side), "-L",
                        os.path.join(base, "master.log"), "-d"],
                       stdin=subprocess.DEVNULL, check=True, timeout=START_TIMEOUT)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            ready = [self.master_pid(side) and listening(self.ports[f"{side}_imap"])
                     and listening(self.ports[f"{side}_csync"])
                     and os.path.exists(self.socket(side)) for side in SIDES]
            if all(ready):
                return
            dead = [side for side in SIDES if not self.master_pid(side)]
            if dead or time.monotonic() > deadline:
                raise PairError(f"the {', '.join(dead) or 'pair'} did not start: "
                                + self.log_tail())
            time.sleep(0.05)

    def log_tail(self) -> str:
        tails = []
        for side in SIDES:
            try:
                with open(os.path.join(self.side_dir(side), "master.log"), errors="replace") as f:
                    tails.append(f"{side}: " + " | ".join(f.read().splitlines()[-3:]))
            except OSError:
                pass
        return "; ".join(tails) or "no master.log"

    def stop(self) -> None:
        pids = [pid for pid in map(self.master_pid, SIDES) if pid]
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while any(map(alive, pids)) and time.monotonic() < deadline:
            time.sleep(0.05)
        # children that outlived their master, and masters deaf to SIGTERM: only those
        # naming this pair's own configuration files
        for side in SIDES:
            for pid in pids_naming(self.conf(side)) + [p for p in pids if alive(p)]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if os.path.exists(self.pidfile(side)):
                os.unlink(self.pidfile(side))
        self.stop_syslog()

    def destroy(self) -> None:
        if not os.path.exists(os.path.join(self.dir, "pair.json")):
            return
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- syslog ---------------------------------------------------------------------------
    def start_syslog(self) -> None:
        """Cyrus logs through syslog; with no /dev/log (these machines) its lines, where
        sync failures show, land in DIR/syslog.log."""
        if os.path.exists("/dev/log"):
            return
        catcher = os.path.join(os.path.dirname(os.path.abspath(__file__)), "syslog_catcher.py")
        subprocess.Popen([sys.executable, catcher, os.path.join(self.dir, "syslog.log")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 3
        while not os.path.exists("/dev/log") and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop_syslog(self) -> None:
        log = os.path.join(self.dir, "syslog.log")
        for pid in pids_naming(log):
            os.kill(pid, signal.SIGTERM)

    # -- data -----------------------------------------------------------------------------
    def seed(self, user: str, count: int, side: str = "master") -> None:
        """USER (password "secret" on both sides) with an INBOX and `count` messages."""
        for each in SIDES:
            self.set_password(each, user)
        append_messages(self.ports[f"{side}_imap"], user, count)

    def sync_client(self, *args: str) -> subprocess.CompletedProcess:
        """Cyrus' own sync_client on the master, under a timeout."""
        return subprocess.run(["timeout", "-k", "5", str(SYNC_TIMEOUT),
                               f"{CYRUS_BIN}/sync_client", "-C", self.master_conf, *args],
                              capture_output=True, text=True)

    def sync(self, *args: str) -> subprocess.CompletedProcess:
        """sync_client -v -u USER… for users; options (a first word with a dash: "-m", "-O"
        …) are passed to sync_client as they are."""
        if args and args[0].startswith("-"):
            return self.sync_client(*args)
        return self.sync_client("-v", "-u", *args)

    def run(self, command: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """The command line's verbs, in process."""
        out, code = "", 0
        if command == "start":
            self.start()
        elif command in ("stop", "destroy"):
            getattr(self, command)()
        elif command == "env":
            out = json.dumps(self.vars, indent=2) if args[:1] == ("--json",) else "".join(
                f"{key}={shlex.quote(value)}\n" for key, value in self.vars.items())
        elif command == "seed":
            self.seed(args[0], int(args[1]), *args[2:3])
        elif command == "sync":
            done = self.sync(*args)
            out, code = done.stdout + done.stderr, done.returncode
        else:
            raise PairError(f"unknown command {command!r}")
        if check and code:
            raise PairError(f"{command} exited {code}: {out.strip()[-500:]}")
        return subprocess.CompletedProcess([command, *args], code, out, "")




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cyrus.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--dir", default="/tmp/syncsh-cyrus-pair")
    parser.add_argument("--extra-conf", default="", help="imapd.conf lines for both sides")
    parser.add_argument("--sasl-mechs", default="PLAIN LOGIN")
    parser.add_argument("command", choices=["start", "stop", "env", "seed", "sync", "destroy"])
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    try:
        pair = CyrusPair(options.dir, extra_conf=options.extra_conf.replace("\\n", "\n"),
                         sasl_mechs=options.sasl_mechs, start=options.command == "start")
        done = pair.run("env" if options.command == "start" else options.command,
                        *options.args, check=False)
    except (FixtureError, SeedError, subprocess.SubprocessError, OSError, IndexError, ValueError) as error:
        print(f"cyrus.py: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(done.stdout)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
