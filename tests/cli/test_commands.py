"""The `ehelse` commands end to end, in-process: db upgrade, token, import, export, backup and
restore, on SQLite (and PostgreSQL where marked)."""

from __future__ import annotations

import gzip
import json

import orjson
import pytest

from ehelse.access.tokens import TokenService
from ehelse.settings import get_settings
from ehelse.storage import open_repository


def _count(url: str, type_: str | None = None) -> int:
    repo = open_repository(url)
    try:
        return sum(1 for _ in repo.iter_current(type_))
    finally:
        repo.close()


def test_db_upgrade_is_repeatable(ehelse, sqlite_url):
    assert "database is current" in ehelse("db", "upgrade", "--database", sqlite_url).output
    ehelse("db", "upgrade", "--database", sqlite_url)
    repo = open_repository(sqlite_url)
    assert repo.migrations_current()
    repo.close()


def test_token_is_valid_for_that_database(ehelse, sqlite_url):
    ehelse("db", "upgrade", "--database", sqlite_url)
    token = ehelse("token", "--as", "admin", "--database", sqlite_url).stdout.strip()
    repo = open_repository(sqlite_url)
    try:
        actor = TokenService(get_settings(database_url=sqlite_url), repo).verify(token)
    finally:
        repo.close()
    assert actor.is_admin and actor.kind == "admin"


def test_practitioner_token_carries_tillitsrammeverk(ehelse, sqlite_url):
    ehelse("db", "upgrade", "--database", sqlite_url)
    token = ehelse("token", "--as", "practitioner:9144889", "--org", "974633752", "--purpose", "ETREAT",
                   "--reason", "akutt", "--for", "01010112345", "--database", sqlite_url).stdout.strip()
    repo = open_repository(sqlite_url)
    try:
        actor = TokenService(get_settings(database_url=sqlite_url), repo).verify(token)
    finally:
        repo.close()
    assert (actor.kind, actor.subject, actor.organization, actor.purpose, actor.reason, actor.patient) == \
           ("practitioner", "9144889", "974633752", "ETREAT", "akutt", "01010112345")
    assert actor.claims["authorization_details"][0]["type"] == "nhn:tillitsrammeverk:parameters"


@pytest.mark.parametrize("args", [["--as", "nobody"], ["--as", "patient:"], ["--as", "admin", "--purpose", "FUN"]])
def test_token_bad_arguments(ehelse, sqlite_url, args):
    ehelse("db", "upgrade", "--database", sqlite_url)
    result = ehelse("token", *args, "--database", sqlite_url, expect=1)
    assert "error" in result.output


def test_import_ndjson_with_rejections_and_summary(ehelse, sqlite_url, tmp_path):
    ehelse("db", "upgrade", "--database", sqlite_url)
    lines = [
        {"resourceType": "Patient", "id": "p1", "gender": "female"},
        {"resourceType": "Patient", "gender": "male"},
        {"resourceType": "Patient", "id": "p1", "gender": "other"},  # an update of the first
        {"resourceType": "Patient", "id": "p2", "gender": "robot"},  # not in the value set
        {"resourceType": "Patient", "id": "p3", "unknownElement": 1},  # not an R4 element
    ]
    body = b"\n".join(orjson.dumps(line) for line in lines) + b"\n{not json\n\n"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "patients.ndjson").write_bytes(body)
    with gzip.open(tmp_path / "in" / "more.ndjson.gz", "wb") as f:
        f.write(orjson.dumps({"resourceType": "Observation", "id": "o1", "status": "final",
                              "code": {"text": "puls"}}) + b"\n")
    result = ehelse("import", tmp_path / "in", "--database", sqlite_url, expect=2)
    out = result.output
    assert "created 3, updated 1, rejected 3" in out
    assert "patients.ndjson:4" in out and "patients.ndjson:5" in out and "patients.ndjson:6" in out
    assert "unknownElement" in out
    assert _count(sqlite_url, "Patient") == 2 and _count(sqlite_url, "Observation") == 1


def test_import_missing_path_is_an_error(ehelse, sqlite_url, tmp_path):
    result = ehelse("import", tmp_path / "nope.json", "--database", sqlite_url, expect=1)
    assert "no such file" in result.output


def test_import_synthea_then_export(ehelse, sqlite_url, synthea_files, tmp_path):
    ehelse("db", "upgrade", "--database", sqlite_url)
    sent = sum(len(json.loads(p.read_bytes())["entry"]) for p in synthea_files)
    result = ehelse("import", *synthea_files, "--database", sqlite_url)
    assert "rejected 0" in result.output
    assert "Patient" in result.output and "Observation" in result.output
    stored = _count(sqlite_url)
    assert stored == sent  # every entry of every transaction is there

    ehelse("export", tmp_path / "out", "--database", sqlite_url)
    files = sorted((tmp_path / "out").glob("*.ndjson"))
    assert {f.name for f in files} >= {"Patient.ndjson", "Observation.ndjson", "Organization.ndjson"}
    exported = [orjson.loads(line) for f in files for line in f.read_bytes().splitlines()]
    assert len(exported) == stored
    assert all(r["resourceType"] + ".ndjson" in {f.name for f in files} for r in exported)
    patients = (tmp_path / "out" / "Patient.ndjson").read_bytes().splitlines()
    assert len(patients) == 2

    # Re-importing the export updates every resource and creates none.
    result = ehelse("import", tmp_path / "out", "--database", sqlite_url)
    assert f"created 0, updated {stored}, rejected 0" in result.output


def test_export_one_type(ehelse, sqlite_url, tmp_path):
    ehelse("db", "upgrade", "--database", sqlite_url)
    repo = open_repository(sqlite_url)
    repo.create({"resourceType": "Patient"}, id="a")
    repo.create({"resourceType": "Organization", "name": "X"}, id="b")
    repo.close()
    ehelse("export", tmp_path / "out", "--type", "Organization", "--database", sqlite_url)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["Organization.ndjson"]


def _seed(url: str, n: int) -> None:
    repo = open_repository(url)
    for i in range(n):
        repo.create({"resourceType": "Patient", "gender": "female"}, id=f"p{i}")
    repo.close()


def test_backup_restore_sqlite(ehelse, sqlite_url, tmp_path):
    ehelse("db", "upgrade", "--database", sqlite_url)
    _seed(sqlite_url, 5)
    ehelse("backup", tmp_path / "b.bak", "--database", sqlite_url)
    repo = open_repository(sqlite_url)
    repo.create({"resourceType": "Patient"}, id="later")
    repo.close()
    assert _count(sqlite_url) == 6
    refused = ehelse("restore", tmp_path / "b.bak", "--database", sqlite_url, expect=1).output
    assert "not empty" in refused and _count(sqlite_url) == 6
    ehelse("restore", tmp_path / "b.bak", "--replace", "--database", sqlite_url)
    assert _count(sqlite_url) == 5
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    ehelse("restore", tmp_path / "b.bak", "--database", other)
    assert _count(other) == 5


@pytest.mark.postgres
def test_backup_restore_postgres(ehelse, pg_url, tmp_path):
    ehelse("db", "upgrade", "--database", pg_url)
    _seed(pg_url, 5)
    ehelse("backup", tmp_path / "pg.bak", "--database", pg_url)
    repo = open_repository(pg_url)
    repo.create({"resourceType": "Patient"}, id="later")
    repo.delete("Patient", "p0")
    repo.close()
    assert _count(pg_url) == 5
    assert "not empty" in ehelse("restore", tmp_path / "pg.bak", "--database", pg_url, expect=1).output
    ehelse("restore", tmp_path / "pg.bak", "--replace", "--database", pg_url)
    repo = open_repository(pg_url)
    try:
        assert sorted(v.id for v in repo.iter_current("Patient")) == [f"p{i}" for i in range(5)]
        assert repo.migrations_current()
    finally:
        repo.close()


def test_restore_missing_file(ehelse, sqlite_url, tmp_path):
    assert "no backup file" in ehelse("restore", tmp_path / "none.bak", "--database", sqlite_url, expect=1).output
