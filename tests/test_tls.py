"""TLS over a stream that is not a kernel socket (what STARTTLS through --via runs on),
against a real TLS server on a socket pair: whole records, many records at once, and records
that arrive a few bytes at a time."""

import socket
import ssl
import subprocess
import threading

import pytest

from syncsh.errors import ConnectionLost
from syncsh.transport.socket import SocketTransport


class Dribble:
    """A channel-like stream (not a socket) that hands out at most `step` bytes a read."""

    def __init__(self, sock, step):
        self.sock, self.step = sock, step

    def sendall(self, data):
        self.sock.sendall(data)

    def recv(self, size):
        return self.sock.recv(min(size, self.step))

    def fileno(self):
        return self.sock.fileno()

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    where = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    where / "key.pem", "-out", where / "cert.pem", "-days", "2", "-subj",
                    "/CN=replica.test", "-addext", "subjectAltName=DNS:replica.test"],
                   check=True, capture_output=True)
    return where / "cert.pem", where / "key.pem"


def serve(sock, cert, key, reply_to):
    """A TLS server: greets, then answers each line with reply_to(line), then closes."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with context.wrap_socket(sock, server_side=True) as tls:
        tls.sendall(b"* OK greeting\r\n")
        pending = b""
        while True:
            data = tls.recv(1 << 16)
            if not data:
                return
            pending += data
            while b"\r\n" in pending:
                line, pending = pending.split(b"\r\n", 1)
                if line == b"BYE":
                    return
                tls.sendall(reply_to(line))


def read_until(transport, end):
    got = b""
    while not got.endswith(end):
        data = transport.recv(5.0)
        assert data, f"the stream ended after {got[-200:]!r}"
        got += data
    return got


@pytest.mark.parametrize("step", [1 << 16, 7])
def test_tls_over_a_channel_like_stream(certificate, step):
    cert, key = certificate
    ours, theirs = socket.socketpair()
    big = b"".join(b"* %d %040x ()\r\n" % (i, i) for i in range(5000))   # ~0.3 MB, many records
    server = threading.Thread(target=serve, args=(theirs, cert, key,
                                                  lambda line: big + b"OK " + line + b"\r\n"))
    server.start()
    transport = SocketTransport(Dribble(ours, step), "test stream")
    context = ssl.create_default_context(cafile=str(cert))
    transport.start_tls(context, "replica.test")
    assert read_until(transport, b"greeting\r\n") == b"* OK greeting\r\n"
    for command in (b"one", b"two"):
        transport.send(command + b"\r\n")
        assert read_until(transport, b"OK " + command + b"\r\n") == big + b"OK " + command + b"\r\n"
    transport.send(b"BYE\r\n")
    assert transport.recv(5.0) == b""                  # the server's close_notify: end of stream
    transport.close()
    server.join(5)


def test_an_untrusted_certificate_is_one_line(certificate):
    cert, key = certificate
    ours, theirs = socket.socketpair()
    server = threading.Thread(target=lambda: _refused(theirs, cert, key))
    server.start()
    transport = SocketTransport(Dribble(ours, 1 << 16), "test stream")
    with pytest.raises(ConnectionLost, match="TLS with test stream failed: .*CERTIFICATE_VERIFY"):
        transport.start_tls(ssl.create_default_context(), "replica.test")
    transport.close()
    server.join(5)


def _refused(sock, cert, key):
    try:
        serve(sock, cert, key, lambda line: b"")
    except (ssl.SSLError, OSError):
        pass                                # the client gave up on our certificate
