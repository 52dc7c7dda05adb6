"""The audit trail: one AuditEvent per patient touched, durable before the data is
returned, group commit, and hash chains that `ehelse audit verify` checks, across processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from ehelse.access.actor import Actor
from ehelse.access.policy import AccessPolicy
from ehelse.access.repository import SecuredRepository
from ehelse.audit import log, report as reports
from ehelse.audit.record import render
from ehelse.audit.trail import AuditTrail, trail_for
from ehelse.audit.verify import verify
from ehelse.cli.main import app
from ehelse.errors import Forbidden
from ehelse.nobasis.seed.vocabulary import ENH, FNR, HPR
from ehelse.storage import SearchParam, SearchQuery, open_repository
from testsupport import errors_in_threads, hold_first_commit

SRC = Path(__file__).resolve().parents[2] / "src"
ADMIN = Actor("admin", "admin", ("system/*.*",), token_id="admin-token")


def _world(repo) -> None:
    repo.update({"resourceType": "Organization", "id": "org", "name": "Testlegesenter",
                 "identifier": [{"system": ENH, "value": "979513763"}]})
    repo.update({"resourceType": "Practitioner", "id": "doc", "name": [{"family": "Berg", "given": ["Nina"]}],
                 "identifier": [{"system": HPR, "value": "995651119"}]})
    for id, fnr in (("anna", "13116900216"), ("bjorn", "31129956715")):
        repo.update({"resourceType": "Patient", "id": id, "identifier": [{"system": FNR, "value": fnr}],
                     "name": [{"family": id.title()}]})
        repo.update({"resourceType": "Observation", "id": f"obs-{id}", "status": "final", "code": {"text": "x"},
                     "subject": {"reference": f"Patient/{id}"}})


@pytest.fixture
def repo(tmp_path):
    repository = open_repository(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    repository.upgrade()
    _world(repository)
    yield repository
    repository.close()


def _events(repo) -> list[dict]:
    """Every record, as the AuditEvent the API renders from the log."""
    return [render(r) for r in log.select(repo, log.LogQuery())]


def _patients(event: dict) -> list[str]:
    return [e["what"]["reference"] for e in event["entity"] if e.get("what", {}).get("reference", "").startswith("Patient/")]


def test_one_record_per_patient_touched(repo):
    secured = SecuredRepository(repo, ADMIN, AccessPolicy())
    page = secured.search("Observation", SearchQuery(params=[SearchParam("_id", None, ("obs-anna", "obs-bjorn"))]))
    assert len(page.entries) == 2
    events = _events(repo)
    assert sorted(p for e in events for p in _patients(e)) == ["Patient/anna", "Patient/bjorn"]
    anna = next(e for e in events if _patients(e) == ["Patient/anna"])
    assert anna["action"] == "E" and anna["subtype"][0]["code"] == "search" and anna["outcome"] == "0"
    assert {"reference": "Observation/obs-anna"} in [e.get("what") for e in anna["entity"]]
    assert anna["agent"][0]["requestor"] is True
    secured.read("Observation", "obs-anna")
    assert len(_events(repo)) == 3
    secured.read("Organization", "org")  # no patient's data: nothing to audit
    assert len(_events(repo)) == 3


_COUNT_RECORDS = """
import sys
from ehelse.audit import log
from ehelse.storage import open_repository
print(log.count(open_repository(sys.argv[1]), log.LogQuery()))
"""


def test_the_record_is_durable_before_the_data_is_returned(repo, tmp_path):
    SecuredRepository(repo, ADMIN, AccessPolicy()).read("Observation", "obs-anna")
    # another process finds it at once (on SQLite in this process's journal, which a
    # reader of the log moves into the table first: audit/journal.py)
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", _COUNT_RECORDS, repo.url], env=env, capture_output=True, timeout=60)
    assert done.stdout.strip() == b"1", done.stderr
    with sqlite3.connect(tmp_path / "audit.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1


def test_no_data_without_its_audit_record(repo, monkeypatch):
    trail = trail_for(repo)

    def broken(events):
        raise RuntimeError("disk full")

    monkeypatch.setattr(trail, "record", broken)
    with pytest.raises(RuntimeError):
        SecuredRepository(repo, ADMIN, AccessPolicy(), trail).read("Observation", "obs-anna")


def test_concurrent_requests_share_commits(repo, monkeypatch):
    trail = AuditTrail(repo, use_journal=False)
    hold_first_commit(monkeypatch, repo, trail, waiting=7)  # the other 7 readers share the next commit

    def reader():
        for _ in range(10):
            SecuredRepository(repo, ADMIN, AccessPolicy(), trail).read("Observation", "obs-anna")

    assert not errors_in_threads(reader, 8)
    assert trail.seq == 80
    assert trail.commits < 80  # several records per commit when requests overlap
    assert verify(repo).ok


def test_verify_finds_a_modified_and_a_deleted_record(repo, tmp_path):
    secured = SecuredRepository(repo, ADMIN, AccessPolicy())
    for _ in range(5):
        secured.read("Observation", "obs-anna")
    assert verify(repo).ok and verify(repo).records == 5
    events = _events(repo)
    chain = trail_for(repo).outside.chain_id  # reads' records: the journal's chain on SQLite
    with sqlite3.connect(tmp_path / "audit.sqlite") as conn:
        conn.execute("UPDATE audit_log SET actor_id = 'someone else' WHERE chain = ? AND seq = 2", (chain,))
        conn.execute("DELETE FROM audit_log WHERE chain = ? AND seq = 4", (chain,))
    result = verify(repo)
    assert not result.ok and len(events) == 5
    problems = {(b.seq, b.problem.split(" (")[0]) for b in result.breaks}
    assert (2, "content does not match its hash") in problems
    assert (5, "record(s) 4 missing before it") in problems
    cli = CliRunner().invoke(app, ["audit", "verify", "--database", repo.url])
    assert cli.exit_code == 1 and "seq 5" in cli.output


_WRITER = """
import sys
from ehelse.access.actor import Actor
from ehelse.access.policy import AccessPolicy
from ehelse.access.repository import SecuredRepository
from ehelse.storage import open_repository
repo = open_repository(sys.argv[1])
actor = Actor("admin", "admin", ("system/*.*",))
for i in range(40):
    SecuredRepository(repo, actor, AccessPolicy()).read("Observation", "obs-anna" if i % 2 else "obs-bjorn")
repo.close()
"""


def test_two_processes_writing_at_once_both_verify(repo):
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    processes = [subprocess.Popen([sys.executable, "-c", _WRITER, repo.url], env=env, stderr=subprocess.PIPE)
                 for _ in range(2)]
    for process in processes:
        assert process.wait(timeout=120) == 0, process.stderr.read().decode()
    result = verify(repo)
    assert result.ok, [str(b) for b in result.breaks]
    assert sorted(result.chains.values()) == [40, 40]
    cli = CliRunner().invoke(app, ["audit", "verify", "--database", repo.url])
    assert cli.exit_code == 0 and "intact" in cli.output


def test_citizen_sees_who_has_looked(repo):
    doctor = Actor("practitioner", "995651119", ("user/*.cruds",), organization="979513763", purpose="BTG",
                   reason="Bevisstløs", token_id="t1")
    SecuredRepository(repo, doctor, AccessPolicy()).read("Observation", "obs-anna")
    anna = Actor("patient", "13116900216", ("patient/*.rs",), patient="anna", token_id="t2")
    SecuredRepository(repo, anna, AccessPolicy()).read("Observation", "obs-anna")  # her own look: not listed
    rows = reports.who_has_looked(repo, "anna")
    assert len(rows) == 1
    row = rows[0]
    assert (row["name"], row["role"], row["organisation"]) == ("Nina Berg", "Helsepersonell", "Testlegesenter")
    assert "Bevisstløs" in row["why"] and row["relation"] == "emergency" and row["when"]


def test_privacy_officer_report(repo, monkeypatch):
    monkeypatch.setattr(reports, "UNUSUAL_PATIENTS", 2)
    doctor = Actor("practitioner", "995651119", ("user/*.cruds",), organization="979513763", token_id="t3")
    secured = SecuredRepository(repo, doctor, AccessPolicy())
    for patient in ("anna", "bjorn"):
        secured.read("Patient", patient)  # demographics, without a care relationship
        with pytest.raises(Forbidden):
            secured.read("Observation", f"obs-{patient}")  # 403: purpose required
    emergency = Actor("practitioner", "995651119", ("user/*.cruds",), organization="979513763", purpose="ETREAT",
                      reason="Akutt", token_id="t4")
    SecuredRepository(repo, emergency, AccessPolicy()).read("Observation", "obs-anna")
    result = reports.report(repo, "2000-01-01")
    assert [a.patient for a in result.emergency] == ["anna"] and result.emergency[0].reason == "Akutt"
    assert len(result.without_care) == 4 and len(result.denied) == 2
    assert result.unusual == [("995651119", 2)]
    cli = CliRunner().invoke(app, ["audit", "report", "--since", "2000-01-01", "--database", repo.url])
    assert cli.exit_code == 0 and "Emergency access" in cli.output and "995651119" in cli.output


def test_representatives_show_in_the_access_log_by_their_role(repo):
    repo.update({"resourceType": "Patient", "id": "holder", "identifier": [{"system": FNR, "value": "02013299997"}],
                 "name": [{"family": "Fullmektig", "given": ["Frida"]}]})
    event_actor = Actor("patient", "02013299997", ("patient/*.rs",), patient="anna", token_id="t9")
    from ehelse.audit.events import audit_event

    trail_for(repo).record([audit_event(event_actor, interaction="read", patient_id="anna",
                                        what=["Observation/obs-anna"], relation="fullmakt")])
    rows = reports.who_has_looked(repo, "anna")
    assert [(r["name"], r["role"]) for r in rows] == [("Frida Fullmektig", "Fullmektig")]


def test_creating_a_patient_record_is_audited_under_that_patient(repo):
    # A Patient posted without an id has no compartment until it is stored: the record of
    # its creation names the new patient (it named no one, so it was not written at all).
    created = SecuredRepository(repo, ADMIN, AccessPolicy()).create({"resourceType": "Patient",
                                                                     "name": [{"family": "Ny"}]})
    rows = log.select(repo, log.LogQuery(patients=[created.id]))
    assert [(r["interaction"], r["refs"]) for r in rows] == [("create", f"Patient/{created.id}")]
    assert verify(repo).ok
