"""JSON output is JSON lines everywhere, each line of a type documented in docs/json.md."""

import json
import re

from pathlib import Path

from conftest import ROOT as _ROOT, syncsh

ROOT = Path(_ROOT)


def documented_types() -> set[str]:
    text = (ROOT / "docs" / "json.md").read_text()
    return set(re.findall(r"^\| `([a-z-]+)` \|", text, re.M))


def documented_keys(section: str) -> dict[str, set[str]]:
    """type -> the keys docs/json.md names for it, in the section whose heading starts so."""
    text = (ROOT / "docs" / "json.md").read_text()
    body = text.split(f"\n## {section}", 1)[1].split("\n## ", 1)[0]
    return {kind: set(re.findall(r"`([a-z_]+)`", keys)) | {"type"}
            for kind, keys in re.findall(r"^\| `([a-z-]+)` \| (.*) \|$", body, re.M)}


def assert_documented(rows: list[dict], section: str) -> None:
    keys = documented_keys(section)
    for row in rows:
        assert row["type"] in keys, row
        assert set(row) <= keys[row["type"]], (row["type"], set(row) - keys[row["type"]])


def json_lines(stdout: bytes) -> list[dict]:
    rows = [json.loads(line) for line in stdout.decode().splitlines()]
    assert rows and all(isinstance(row, dict) and isinstance(row.get("type"), str)
                        for row in rows)
    return rows


def test_session_output_is_json_lines_of_documented_types():
    proc = syncsh("demo:cyrus-1", "--format", "json", "-c", "user_all dpc22", "-c",
                  "select user.dpc22", "-c", "info", "-c", "status", "-c", "reserve user.dpc22 "
                  "0101003f4c56b08c9d000026", "-c", "frob")
    rows = json_lines(proc.stdout)
    types = {row["type"] for row in rows}
    assert {"banner", "command", "mailbox", "message", "subscription", "sieve", "reserved",
            "done"} <= types
    assert types <= documented_types(), types - documented_types()
    assert_documented(rows, "Sessions")


def test_diff_output_is_json_lines_of_documented_types():
    proc = syncsh("diff", "demo:cyrus-1", "demo:cyrus-2", "--user", "dpc22", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    rows = json_lines(proc.stdout)
    assert [row["type"] for row in rows] == ["finding", "finding", "step", "report"]
    assert {row["type"] for row in rows} <= documented_types()
    assert_documented(rows, "`syncsh diff --format json`")
    report = rows[-1]
    assert report["identical"] is False and report["users"] == ["dpc22"]
    assert report["findings"] == 2 and report["next_steps"] == 1
    assert rows[2]["findings"] == 2 and isinstance(rows[2]["summary"], list)


def test_every_documented_type_is_one_the_code_writes():
    """docs/json.md names no type that nothing writes (a schema that drifted away)."""
    sources = "".join(p.read_text() for p in (ROOT / "syncsh").rglob("*.py"))
    for kind in documented_types():
        assert f'"{kind}"' in sources, kind
