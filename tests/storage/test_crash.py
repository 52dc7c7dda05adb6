"""SIGKILL in the middle of writing transactions loses no committed resource and leaves no
half transaction, on SQLite and PostgreSQL (DESIGN.md, Storage).

A child process writes transactions of 50 resources in a loop, each carrying its number as
an identifier (`urn:tx|n`, on 49 Observations and one marker Basic), and reports when it
begins and commits each. It is SIGKILLed three times over: twice just after it began a
transaction (at a random moment, it may commit first), and once while it surely is
half-way through one (it pauses there). After each kill every transaction must be all
there (50 resources) or all absent, and every one it reported committed is there.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import orjson
import pytest

from ehelse.storage import open_repository
from ehelse.storage.protocol import SearchParam, SearchQuery

SIZE = 50
ROUNDS = 3

_CHILD = r"""
import sys
from ehelse.storage import open_repository

repo = open_repository(sys.argv[1])
n, pause_at = int(sys.argv[2]), int(sys.argv[3])
print("ready", flush=True)
while True:
    tx = {"system": "urn:tx", "value": str(n)}
    print("begin", n, flush=True)
    with repo.transaction():
        for k in range(SIZE - 1):
            repo.create({"resourceType": "Observation", "status": "final", "identifier": [tx],
                         "valueQuantity": {"value": 1.50, "unit": "mg"}})
            if n == pause_at and k == SIZE // 2:
                print("inside", n, flush=True)
                sys.stdin.readline()  # wait here, half-way, for the kill
        repo.create({"resourceType": "Basic", "identifier": [tx]}, id=f"marker-{n}")
    print("commit", n, flush=True)
    n += 1
""".replace("SIZE", str(SIZE))


def _run_and_kill(url: str, first: int, rng: random.Random, *, halfway: bool) -> tuple[set[int], int]:
    """Start the writer, let it commit a few transactions, SIGKILL it just after it began
    another (`halfway`: once it is surely half-way through that one); the transactions it
    reported committed, and the one it was in."""
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    wanted = rng.randint(2, 5)
    pause_at = first + wanted if halfway else -1
    child = subprocess.Popen([sys.executable, "-c", _CHILD, url, str(first), str(pause_at)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env, text=True)
    reported: set[int] = set()
    begun = -1
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        # plain blocking reads: the writer prints all the time, or ends (EOF) if it fails
        while True:
            line = child.stdout.readline()
            if not line:
                pytest.fail(f"writer died: {child.stderr.read()}")
            what, n = line.split()
            if what == "commit":
                reported.add(int(n))
            elif what == "inside" or (what == "begin" and len(reported) >= wanted and not halfway):
                begun = int(n)
                break
        if not halfway:
            time.sleep(rng.uniform(0, 0.001))  # inside the transaction it just began (it takes ms)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    # lines written before the kill but not read yet: those transactions committed too
    reported.update(int(line.split()[1]) for line in child.stdout.read().splitlines()
                    if line.startswith("commit"))
    for stream in (child.stdin, child.stdout, child.stderr):
        stream.close()
    assert child.returncode == -signal.SIGKILL
    return reported, begun


def _check(url: str, reported: set[int]) -> set[int]:
    """Every transaction whole or absent, every reported one present; those present."""
    repo = open_repository(url, db_pool_size=2)
    try:
        sizes: dict[int, int] = {}
        for version in repo.iter_current():
            n = int(orjson.loads(version.content)["identifier"][0]["value"])
            sizes[n] = sizes.get(n, 0) + 1
        assert {n for n, size in sizes.items() if size != SIZE} == set(), sizes
        assert reported <= set(sizes)
        for n in reported:  # the index rows were committed with them
            query = SearchQuery([SearchParam("identifier", None, (f"urn:tx|{n}",))])
            assert repo.search("Observation", query).total + repo.search("Basic", query).total == SIZE
        # history holds exactly the committed versions: nothing half-written there either
        assert repo.history(count=1).total == SIZE * len(sizes)
        return set(sizes)
    finally:
        repo.close()


def _crash_rounds(url: str) -> None:
    rng = random.Random(os.getpid())
    first = 0
    for round in range(ROUNDS):
        # at a random moment first; last, surely half-way through a transaction
        halfway = round == ROUNDS - 1
        reported, begun = _run_and_kill(url, first, rng, halfway=halfway)
        assert reported and begun >= 0, "the writer was not killed after some commits"
        present = _check(url, reported)
        if halfway:
            assert begun not in present
        first = max(present) + 1


@pytest.mark.slow
def test_sigkill_sqlite(sqlite_url):
    open_repository(sqlite_url).close()  # creates the schema
    _crash_rounds(sqlite_url)


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_postgres(pg_url):
    repo = open_repository(pg_url, db_pool_size=1)
    repo.upgrade()
    repo.close()
    _crash_rounds(pg_url)
