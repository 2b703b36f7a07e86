"""What the replies diff reads look like, from a real Cyrus 3.6: sieve scripts, message
bodies, annotations, expunged records, and the raw wire bytes."""

import base64
import hashlib
import json
import socket

from conftest import syncsh
from test_csync import fresh_user
from test_repair import imap


def prepared_user(cyrus):
    user = fresh_user(cyrus, 3, prefix="rn")
    master = f"unix:{cyrus.master_socket}"
    syncsh(master, "--allow-writes", "-c", f"APPLY SIEVE %(USERID {user} FILENAME vacation.script "
           'LAST_UPDATE 1700000000 CONTENT "require \\"fileinto\\"; keep;")')
    conn = imap(cyrus, user, "master")
    assert conn._simple_command("SETMETADATA", "INBOX", '(/shared/comment "box note")')[0] == "OK"
    conn.select("INBOX")
    conn.uid("STORE", "1", "ANNOTATION", '(/comment (value.shared "message note"))')
    conn.uid("STORE", "2", "+FLAGS", "(\\Deleted)")
    conn.expunge()
    conn.append("INBOX", None, None, b"Subject: caf\xe9\r\n\r\nLatin-1 \xe9t\xe9\r\n")
    conn.logout()
    return user, master


def fullmailbox_guids(master, user):
    proc = syncsh(master, "-c", f"GET FULLMAILBOX user.{user}", "--format", "json")
    return [e for e in map(json.loads, proc.stdout.splitlines()) if e["type"] == "mailbox"][0], \
        [e for e in map(json.loads, proc.stdout.splitlines()) if e["type"] == "message"]


def test_sieve_bodies_annotations_and_counts(cyrus):
    user, master = prepared_user(cyrus)
    fetch_sieve = f"GET FETCH_SIEVE %(USERID {user} FILENAME vacation.script)"
    table = syncsh(master, "-c", fetch_sieve, "--no-color", "--format", "table").stdout.decode()
    assert 'require "fileinto"; keep;' in table
    sieve = json.loads(syncsh(master, "-c", fetch_sieve, "--format", "json").stdout.splitlines()[2])
    assert sieve["type"] == "sieve" and sieve["content"] == 'require "fileinto"; keep;'

    box, messages = fullmailbox_guids(master, user)
    for message in (messages[0], messages[-1]):
        command = (f"GET FETCH %(MBOXNAME user.{user} PARTITION default UNIQUEID "
                   f"{box['uniqueid']} GUID {message['guid']} UID {message['uid']})")
        events = list(map(json.loads, syncsh(master, "-c", command, "--format", "json")
                          .stdout.splitlines()))
        value = [e for e in events if e["type"] == "message-file"][0]
        assert value["guid"] == message["guid"] and value["partition"] == "default"
        body = value["body"].encode() if "body" in value else \
            base64.b64decode(value["body_base64"])
        assert hashlib.sha1(body).hexdigest() == message["guid"]   # the bytes, whole
    assert "body_base64" in value                                    # Latin-1: not text

    table = syncsh(master, "-c", f"GET FULLMAILBOX user.{user}", "-c",
                   f"GET ANNOTATION user.{user}", "--no-color", "--format", "table").stdout.decode()
    assert "3 message(s), 1 expunged (kept, not counted)" in table
    assert "↳ /comment  (shared)    message note" in table
    lines = table.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:4] == ["mailbox", "entry",
                                                                          "user", "id"])
    assert lines[header + 1].split() == [f"user.{user}", "/comment", "(shared)", "box", "note"]
    assert any(line.split()[:3] == ["annotations", "entry", "user"] for line in lines)


def test_raw_is_the_wire_bytes_as_they_came(cyrus):
    user, master = prepared_user(cyrus)
    command = f"GET FULLMAILBOX user.{user}"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(cyrus.master_socket)
        wire = b""
        while not wire.endswith(b"OK success\r\n"):
            if wire.count(b"\r\n") == 1 and not wire.endswith(b"sent\r\n"):
                sock.sendall(command.encode() + b"\r\n")
                wire += b"sent\r\n"
            wire += sock.recv(65536)
        sock.sendall(b"EXIT\r\n")
    reply = wire.split(b"sent\r\n", 1)[1]
    proc = syncsh(master, "-c", command, "--format", "raw")
    assert proc.returncode == 0
    assert proc.stdout.split(b"\n", 1)[1] == reply.replace(b"\r\n", b"\n")
