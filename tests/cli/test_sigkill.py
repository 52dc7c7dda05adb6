"""SIGKILL in the middle of `ehelse import` loses no committed transaction and leaves no half
one (http://hl7.org/fhir/R4/http.html#transaction: all or nothing), on SQLite and PostgreSQL.

The import runs the bundles in a fixed order, one transaction each, so what is stored after
the kill must be exactly the first k bundles for some k: the count of every resource type
must equal that of a prefix of the bundle list. Half a transaction would break that.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from ehelse.storage import open_repository
from ehelse_process import ehelse_argv, run

pytestmark = pytest.mark.slow


def _prefix_counts(files) -> list[Counter]:
    """Per-type resource counts after each bundle: [after 0 bundles, after 1, ...]."""
    counts = [Counter()]
    for path in files:
        bundle = json.loads(path.read_bytes())
        step = Counter(entry["resource"]["resourceType"] for entry in bundle["entry"])
        counts.append(counts[-1] + step)
    return counts


def _stored(repo) -> Counter:
    return Counter(v.type for v in repo.iter_current())


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc; none found elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2:].split()[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    """Running, i.e. neither gone nor a zombie waiting to be reaped."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2:].split()[0] != "Z"


def _kill_midway(url: str, files, min_patients: int) -> None:
    process = subprocess.Popen(ehelse_argv("import", *files, "--database", url),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    repo = open_repository(url)
    try:
        deadline = time.monotonic() + 600  # generous: a loaded CI machine can be slow to start
        # Wait until some bundles are in, then kill while the next ones are being written.
        while time.monotonic() < deadline and process.poll() is None:
            if sum(1 for _ in repo.iter_current("Patient")) >= min_patients:  # cheap to poll
                break
            time.sleep(0.05)
        assert process.poll() is None, "the import finished before it could be killed"
        helpers = _children(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        # The importer's helper (importer.py) holds copies of its sockets: it must die with
        # it, or PostgreSQL would keep the killed transaction open, with its locks.
        deadline = time.monotonic() + 10
        while helpers and time.monotonic() < deadline:
            helpers = [pid for pid in helpers if _alive(pid)]
            time.sleep(0.05)
        assert not helpers, f"helper processes {helpers} outlived the killed import"
    finally:
        repo.close()
        if process.poll() is None:
            process.kill()


def _check(url: str, files) -> int:
    prefixes = _prefix_counts(files)
    repo = open_repository(url)
    try:
        stored = _stored(repo)
    finally:
        repo.close()
    assert stored in prefixes, f"stored {dict(stored)} is not the sum of whole transactions"
    return prefixes.index(stored)


@pytest.fixture(scope="module")
def synthea_bundles(shared_dir):
    folder = shared_dir / "data" / "synthea-r4-dev"
    everything = sorted(folder.glob("*.json"))
    first = [p for p in everything if p.name.startswith(("hospitalInformation", "practitionerInformation"))]
    return first + [p for p in everything if p not in first]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sigkill_during_import_leaves_whole_transactions(backend, request, synthea_bundles, tmp_path):
    url = f"sqlite:///{tmp_path / 'kill.sqlite'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    run("db", "upgrade", "--database", url)
    files = synthea_bundles
    # Kill once the shared bundles and a patient are in, while the next ones are written.
    _kill_midway(url, files, min_patients=1)
    done = _check(url, files)
    assert 3 <= done < len(files), f"killed after {done} of {len(files)} bundles"
    # The database is usable afterwards: the next bundle imports and lands whole.
    run("import", files[done], "--database", url, timeout=120)
    assert _check(url, files) == done + 1
