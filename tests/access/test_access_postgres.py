"""The access rules' SQL on PostgreSQL: a slice of the matrix and the leak checks that
exercise every compiled condition (compartments, hidden labels, chains, _has, totals), and
the audit trail's chains, on the production backend."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fhir"))

from access_world import C, actor, build, secured  # noqa: E402
from router_client import RouterClient  # noqa: E402

from ehelse.audit.verify import verify  # noqa: E402
from ehelse.storage import open_repository  # noqa: E402

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # seeding on PostgreSQL takes ~25 s


@pytest.fixture(scope="module")
def pg_world(pg_url):
    repo = open_repository(pg_url)
    repo.upgrade()
    build(repo)
    yield repo
    repo.close()


def _ids(response) -> set[str]:
    import orjson

    body = response.resource or orjson.loads(response.body)
    return {e["resource"]["id"] for e in body.get("entry", []) if "resource" in e}


def test_rules_compile_and_hold_on_postgres(pg_world):
    repo = pg_world
    kari = RouterClient(secured(repo, actor("patient", C["kari"].fnr, patient=C["kari"].fnr)))
    parent = RouterClient(secured(repo, actor("patient", C["ola"].fnr, patient=C["jonas"].fnr)))
    gp = RouterClient(secured(repo, actor("practitioner", C["gp"].hpr, organization=C["gp"].orgnr)))
    doctor = RouterClient(secured(repo, actor("practitioner", C["hospital_doctor"].hpr,
                                              organization=C["hospital_doctor"].orgnr)))
    assert kari.get("Observation/obs-demo-kari").status == 200
    assert kari.get("Observation/obs-demo-per").status == 404
    mine = kari.get("Observation", query=[("_count", "500")])
    assert "obs-demo-kari" in _ids(mine) and "obs-demo-per" not in _ids(mine)
    assert not _ids(kari.get("Observation", query=[("subject:Patient.family", "Johansen")]))
    seen = _ids(parent.get("Observation", query=[("_count", "1000")]))  # hidden labels as SQL
    assert "obs-demo-jonas" in seen and "obs-withheld-demo-jonas" not in seen
    assert doctor.get("Observation/obs-demo-knut").status == 403
    has = _ids(gp.get("Patient", query=[("_has:Observation:subject:code:text", "Blodtrykk"), ("_count", "1000")]))
    assert "demo-astrid" in has and "t-giver" not in has
    everywhere = _ids(gp.get("", query=[("_type", "Observation,QuestionnaireResponse"), ("_count", "1000")]))
    assert "obs-demo-astrid" in everywhere and "obs-t-giver" not in everywhere
    assert "demo-sara" not in _ids(gp.get("Patient", query=[("address-postalcode", "0171")]))
    assert verify(repo).ok
