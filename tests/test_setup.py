"""The project stands on its own: its real-server fixtures start on free ports and leave
nothing behind, and the package installs from a wheel and runs outside the checkout."""

import os
import subprocess
import sys

from conftest import ROOT, require_cyrus


OUTSIDE = "..%sshared" % "/"              # the folder beside a checkout (not spelt out)


def test_nothing_refers_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:          # not a checkout (an unpacked sdist): nothing to read
        return
    outside = []
    for name in tracked.stdout.split():
        if name.endswith((".py", ".toml", ".cfg")) or name in ("dev", ".ci/run"):
            path = os.path.join(ROOT, name)
            if os.path.isfile(path) and OUTSIDE in open(path, errors="replace").read():
                outside.append(name)
    assert outside == []


def test_two_cyrus_pairs_run_side_by_side_and_leave_no_process(tmp_path):
    require_cyrus()
    from servers.cyrus import CyrusPair
    from servers.host import pids_naming
    first = CyrusPair(f"/tmp/syncsh-side-a-{os.getpid()}")
    try:
        second = CyrusPair(f"/tmp/syncsh-side-b-{os.getpid()}")
        try:
            assert not set(first.ports.values()) & set(second.ports.values())
            for pair in (first, second):
                pair.seed("sidebyside", 2)
                assert pair.sync("sidebyside").returncode == 0
        finally:
            second.destroy()
        assert all(pids_naming(second.conf(side)) == [] for side in ("master", "replica"))
        assert not os.path.exists(second.dir)
        assert first.running()                 # the other pair is untouched
    finally:
        first.destroy()
    assert all(pids_naming(first.conf(side)) == [] for side in ("master", "replica"))


def test_the_pair_can_be_started_by_hand():
    require_cyrus()
    script = os.path.join(ROOT, "tests", "servers", "cyrus.py")
    directory = f"/tmp/syncsh-hand-{os.getpid()}"
    try:
        started = subprocess.run([sys.executable, script, "-d", directory, "start"],
                                 capture_output=True, text=True, timeout=300)
        assert started.returncode == 0, started.stderr
        settings = dict(line.split("=", 1) for line in started.stdout.splitlines())
        assert settings["CYRUS_REPLICA_CSYNC_PORT"].isdigit()
        seeded = subprocess.run([sys.executable, script, "-d", directory, "seed", "hand", "3"],
                                capture_output=True, text=True, timeout=120)
        assert seeded.returncode == 0, seeded.stderr
        synced = subprocess.run([sys.executable, script, "-d", directory, "sync", "hand"],
                                capture_output=True, text=True, timeout=180)
        assert synced.returncode == 0, synced.stdout
    finally:
        subprocess.run([sys.executable, script, "-d", directory, "destroy"], timeout=120)
    assert not os.path.exists(directory)


def test_a_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q",
                            "--disable-pip-version-check", ROOT, "-w", str(wheels)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # the wheels built above (syncsh's and its dependencies'): no index needed
    installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                                "--disable-pip-version-check", "--no-index", "--find-links",
                                str(wheels), "syncsh"],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {"PATH": f"{venv}/bin:/usr/bin:/bin", "HOME": str(away),
           "SYNCSH_DATA_DIR": str(away / "data")}
    syncsh = str(venv / "bin" / "syncsh")
    version = subprocess.run([syncsh, "--version"], cwd=away, env=env, capture_output=True,
                             text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("syncsh "), version.stderr
    listing = subprocess.run([syncsh, "demo:cyrus-2", "-c", "user_some dpc22 user.dpc22"],
                             cwd=away, env=env, capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines()[-1].startswith("OK")
    imported = subprocess.run([str(venv / "bin" / "python"), "-c",
                               "import syncsh, os; print(os.path.dirname(syncsh.__file__))"],
                              cwd=away, env=env, capture_output=True, text=True, timeout=60)
    assert imported.stdout.strip().startswith(str(venv)), imported.stdout
