"""SASL client mechanisms for AUTHENTICATE (PLAIN, LOGIN, SCRAM-SHA-256), sans-IO:
each turns the server's challenges into responses; base64 is the caller's business."""

from __future__ import annotations

from syncsh.errors import SyncshError

PREFERENCE = ("SCRAM-SHA-256", "PLAIN", "LOGIN")     # what sync_client would pick first


class SaslError(SyncshError):
    pass


class Plain:
    name = "PLAIN"

    def __init__(self, user: str, password: str, authzid: str = "") -> None:
        self.message = f"{authzid}\0{user}\0{password}".encode()

    def initial(self) -> bytes | None:
        return self.message

    def respond(self, challenge: bytes) -> bytes:
        return self.message


class Login:
    name = "LOGIN"

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def initial(self) -> bytes | None:
        return None

    def respond(self, challenge: bytes) -> bytes:
        return self.password if b"pass" in challenge.lower() else self.user


class ScramSha256:
    """The server-final message arrives as a continuation; it is checked and answered with
    an empty line."""
    name = "SCRAM-SHA-256"

    def __init__(self, user: str, password: str) -> None:
        from scramp import ScramClient
        self.client = ScramClient(["SCRAM-SHA-256"], user, password)
        self.step = 0

    def initial(self) -> bytes | None:
        return self.client.get_client_first().encode()

    def respond(self, challenge: bytes) -> bytes:
        from scramp import ScramException
        try:
            if self.step == 0:
                self.step = 1
                self.client.set_server_first(challenge.decode())
                return self.client.get_client_final().encode()
            self.client.set_server_final(challenge.decode())
            return b""
        except ScramException as exc:
            raise SaslError(f"SCRAM-SHA-256: {exc}") from None


MECHANISMS = {"PLAIN": Plain, "LOGIN": Login, "SCRAM-SHA-256": ScramSha256}


def choose(offered: list[str], wanted: str | None = None) -> str:
    offered = [m.upper() for m in offered]
    if wanted:
        if wanted.upper() not in MECHANISMS:
            raise SaslError(f"syncsh does not speak SASL {wanted}")
        return wanted.upper()
    for name in PREFERENCE:
        if name in offered:
            return name
    raise SaslError("the server offers no SASL mechanism syncsh speaks "
                    f"({' '.join(offered) or 'none'})")


def mechanism(name: str, user: str, password: str):
    return MECHANISMS[name](user, password)
