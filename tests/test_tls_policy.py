"""--tls require|prefer|off against a man in the middle: a proxy that strips `* STARTTLS`
from a real, TLS-capable Cyrus 3.6 and records every byte the client sends.  require
refuses before any credential; prefer (the default) refuses a clear-text password to an
address that is not loopback (this machine's own, found at run time) and goes on over
loopback; off (or tls = "off" on a named target) goes on."""

import ipaddress
import os
import socket
import subprocess
import threading

import pytest

from conftest import require_cyrus, syncsh
from test_csync import password_env


class StrippingProxy:
    """Listens on (address, free port), forwards to 127.0.0.1:port, removes the STARTTLS
    offer from the server's greeting and keeps what the client sent."""

    def __init__(self, address: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.listener = socket.socket(family)
        self.listener.bind((address, 0))
        self.listener.listen(8)
        self.address, self.port = address, self.listener.getsockname()[1]
        self.upstream = port
        self.sent = b""
        self.stripped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            for pump in (self._to_client, self._to_server):
                threading.Thread(target=_quietly, args=(pump, client, server), daemon=True).start()

    def _to_client(self, client, server) -> None:
        pending, greeting = b"", True
        while True:
            data = server.recv(1 << 16)
            if not data:
                client.close()
                return
            if greeting:
                pending += data
                lines = pending.split(b"\r\n")
                pending = lines.pop()
                kept = []
                for line in lines:
                    if line == b"* STARTTLS":
                        self.stripped += 1
                        continue
                    kept.append(line + b"\r\n")
                    greeting = greeting and not line.startswith(b"* OK")
                data = b"".join(kept) + (b"" if greeting else pending)
            client.sendall(data)

    def _to_server(self, client, server) -> None:
        while True:
            data = client.recv(1 << 16)
            if not data:
                server.close()
                return
            self.sent += data
            server.sendall(data)

    def close(self) -> None:
        self.listener.close()


def _quietly(pump, client, server) -> None:
    try:
        pump(client, server)
    except OSError:                 # the other side went away
        client.close()
        server.close()


def own_non_loopback_address():
    """An address of this machine that is not loopback; made on a dummy interface if the
    machine has none (root), removed afterwards."""
    out = subprocess.run(["ip", "-o", "-4", "addr", "show", "scope", "global"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        address = line.split()[3].split("/")[0]
        if not ipaddress.ip_address(address).is_loopback:
            return address, None
    name = f"syncsh{os.getpid() % 10000}"
    subprocess.run(["ip", "link", "add", name, "type", "dummy"], check=True)
    subprocess.run(["ip", "addr", "add", "198.18.0.77/32", "dev", name], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    return "198.18.0.77", name


@pytest.fixture(scope="module")
def tls_pair():
    require_cyrus()
    cert_dir = f"/tmp/syncsh-tlspol-{os.getpid()}"
    os.makedirs(cert_dir, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    f"{cert_dir}/key.pem", "-out", f"{cert_dir}/cert.pem", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    os.chmod(cert_dir, 0o755)                 # the cyrus user reads them
    for name in ("key.pem", "cert.pem"):
        os.chmod(f"{cert_dir}/{name}", 0o644)
    from servers.cyrus import CyrusPair
    pair = CyrusPair(f"/tmp/syncsh-tlspolp-{os.getpid()}",
                     extra_conf=f"tls_server_cert: {cert_dir}/cert.pem\n"
                                f"tls_server_key: {cert_dir}/key.pem")
    address, dummy = own_non_loopback_address()
    try:
        yield pair, address, f"{cert_dir}/cert.pem"
    finally:
        pair.destroy()
        if dummy:
            subprocess.run(["ip", "link", "del", dummy])


def host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def test_the_server_offers_starttls_and_the_default_uses_it(tls_pair):
    pair, _, cert = tls_pair
    proc = syncsh(f"csync://admin@127.0.0.1:{pair.replica_port}", "-c", "NOOP",
                  env=dict(password_env(), SSL_CERT_FILE=cert))
    assert proc.returncode == 0, proc.stderr


def test_require_refuses_a_stripped_offer_before_any_credential(tls_pair):
    pair, address, _ = tls_pair
    for where in ("127.0.0.1", address):
        proxy = StrippingProxy(where, pair.replica_port)
        try:
            proc = syncsh(f"csync://admin@{host(where)}:{proxy.port}", "--tls", "require",
                          "-c", "NOOP", env=password_env())
            assert proc.returncode == 2
            assert proc.stderr.decode().splitlines() == [
                f"syncsh: csync://admin@{host(where)}:{proxy.port} offers no STARTTLS and "
                "--tls require is set: nothing was sent (the offer may have been removed on "
                "the way)"]
            assert proxy.stripped == 1
            assert b"AUTHENTICATE" not in proxy.sent and b"secret" not in proxy.sent
        finally:
            proxy.close()


def test_prefer_refuses_a_clear_text_password_to_a_non_loopback_address(tls_pair):
    pair, address, _ = tls_pair
    assert not ipaddress.ip_address(address).is_loopback
    proxy = StrippingProxy(address, pair.replica_port)
    try:
        target = f"csync://admin@{host(address)}:{proxy.port}"
        for extra in ([], ["--sasl-mech", "PLAIN"], ["--tls", "prefer", "--sasl-mech", "LOGIN"]):
            proc = syncsh(target, *extra, "-c", "NOOP", env=password_env())
            assert proc.returncode == 2, proc.stderr
            [line] = proc.stderr.decode().splitlines()
            assert line.startswith(f"syncsh: {target} offers no STARTTLS and is not a loopback "
                                   "address: SASL ")
            assert "would send the password in clear" in line and "--tls off" in line
        assert proxy.stripped == 3
        assert b"AUTHENTICATE" not in proxy.sent and b"secret" not in proxy.sent
    finally:
        proxy.close()


def test_prefer_goes_on_over_loopback_and_off_goes_on_anywhere(tls_pair):
    pair, address, _ = tls_pair
    for where, extra in (("127.0.0.1", []), (address, ["--tls", "off"])):
        proxy = StrippingProxy(where, pair.replica_port)
        try:
            proc = syncsh(f"csync://admin@{host(where)}:{proxy.port}", *extra, "-c", "NOOP",
                          env=password_env())
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.decode().splitlines()[-1] == "OK Noop completed"
            assert b"AUTHENTICATE PLAIN" in proxy.sent
        finally:
            proxy.close()


def test_off_never_starts_tls_even_when_offered(tls_pair):
    pair, _, _ = tls_pair
    proc = syncsh(f"csync://admin@127.0.0.1:{pair.replica_port}", "--tls", "off", "-c", "NOOP",
                  env=password_env())      # (the certificate is not trusted: TLS would fail)
    assert proc.returncode == 0, proc.stderr


def test_tls_per_named_target(tls_pair, tmp_path):
    pair, address, _ = tls_pair
    proxy = StrippingProxy(address, pair.replica_port)
    url = f"csync://admin@{host(address)}:{proxy.port}"
    config = tmp_path / "config.toml"
    config.write_text(f'[targets.lax]\nurl = "{url}"\ntls = "off"\n'
                      f'[targets.strict]\nurl = "{url}"\ntls = "require"\n'
                      f'[targets.plain]\nurl = "{url}"\n')
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text(f'[targets.bad]\nurl = "{url}"\ntls = "maybe"\n')
    try:
        run = lambda name, *extra: syncsh("--config", str(config), name, *extra, "-c", "NOOP",
                                          env=password_env())
        strict = run("strict")
        assert strict.returncode == 2 and b"--tls require is set" in strict.stderr
        assert run("plain").returncode == 2                # prefer: not loopback
        assert run("lax", "--tls", "require").returncode == 2   # the command line wins
        lax = run("lax")
        assert lax.returncode == 0, lax.stderr
        bad = syncsh("--config", str(bad_config), "bad", "-c", "NOOP", env=password_env())
        assert bad.returncode == 2 and b'tls must be "require", "prefer" or "off"' in bad.stderr
    finally:
        proxy.close()
