"""Two server processes on one PostgreSQL database write audit records at the same time:
each appends to its own hash chain, and `ehelse audit verify` finds both intact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ehelse.audit import log
from ehelse.storage import open_repository

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
EHELSE = Path(sys.executable).parent / "ehelse"
READS = 40  # per thread; 4 threads per process

# What a server process does per request: a SecuredRepository over the shared database,
# whose AuditTrail (trail_for: one chain per process) records before the data is returned.
_SERVER = """
import sys, threading
from ehelse.access.actor import Actor
from ehelse.access.policy import AccessPolicy
from ehelse.access.repository import SecuredRepository
from ehelse.audit.trail import trail_for
from ehelse.storage import open_repository
repo = open_repository(sys.argv[1])
admin = Actor("admin", "admin", ("system/*.*",), token_id=sys.argv[2])
def reads():
    for i in range(int(sys.argv[3])):
        assert SecuredRepository(repo, admin, AccessPolicy()).read("Observation", f"obs-{i % 2}") is not None
threads = [threading.Thread(target=reads) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print(trail_for(repo).chain_id, flush=True)
"""


@pytest.fixture(scope="module")
def pg_repo(pg_url):
    repo = open_repository(pg_url)
    repo.upgrade()
    for n in range(2):
        repo.update({"resourceType": "Patient", "id": f"p{n}"})
        repo.update({"resourceType": "Observation", "id": f"obs-{n}", "status": "final", "code": {"text": "x"},
                     "subject": {"reference": f"Patient/p{n}"}})
    yield repo
    repo.close()


def test_two_processes_write_their_own_chains_and_both_verify(pg_repo, pg_url):
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    servers = [subprocess.Popen([sys.executable, "-c", _SERVER, pg_url, f"server-{n}", str(READS)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for n in range(2)]
    chains = []
    for server in servers:
        out, err = server.communicate(timeout=120)
        assert server.returncode == 0, err.decode()
        chains.append(out.decode().strip())
    assert len(set(chains)) == 2  # one chain per process
    for chain, token in zip(chains, ("server-0", "server-1")):
        rows = log.select(pg_repo, log.LogQuery(chain=chain))
        assert sorted(r["seq"] for r in rows) == list(range(1, 4 * READS + 1))  # no gap, no duplicate
        assert {r["token_id"] for r in rows} == {token}

    done = subprocess.run([str(EHELSE), "audit", "verify", "--database", pg_url], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{8 * READS} records in 2 chains" in done.stdout + done.stderr  # the console writes to stderr

    # and verify does see a break in either chain
    with pg_repo._writing() as conn:
        pg_repo._exec(conn, "UPDATE audit_log SET actor_id = 'intruder' WHERE chain = ? AND seq = 5", (chains[1],))
    done = subprocess.run([str(EHELSE), "audit", "verify", "--database", pg_url], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and chains[1][:12] in done.stdout + done.stderr
