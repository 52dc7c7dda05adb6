"""The patient summary reads the record in one compartment search (`Patient/<id>/*?_type=...`)
and applies the status filters itself (summary.gather, issue 8). Checked here against the
per-type searches it replaced (the same path gather takes for a record too full for one
page), patient by patient: every section holds the same resources in the same order."""

from __future__ import annotations

import pytest

from ehelse.access.policy import AccessPolicy
from ehelse.errors import Forbidden
from ehelse.nobasis.seed import DEMO_CAST
from ehelse.oauth.sessions import Session
from ehelse.portals.clinician import context, summary
from ehelse.settings import get_settings

from testsupport import copy_db


@pytest.fixture(scope="module")
def app(portal_db, tmp_path_factory):
    from ehelse.web.app import create_app

    path = copy_db(portal_db, tmp_path_factory.mktemp("clinician-gather"))
    return create_app(get_settings(database_url=f"sqlite:///{path}", rate_limit=0))


def clinician_for(app, key: str) -> context.Clinician:
    member = DEMO_CAST[key]
    session = Session("test", {"kind": "personnel", "hpr": member.hpr, "orgnr": member.orgnr, "role": "lege",
                               "created": 0.0, "seen": 0.0, "csrf": "x"})
    return context.load(session, app.state.repo, app.state.router, AccessPolicy(), "http://test/fhir")


def ids(found: dict) -> dict:
    return {section: [r["id"] for r in ([value] if isinstance(value, dict) else value)]
            for section, value in found.items()}


def test_one_compartment_search_gives_the_sections_of_the_per_type_searches(app, monkeypatch):
    gp = clinician_for(app, "gp")
    patients = sorted(gp.care_patients())
    assert len(patients) >= 5
    filtered_out = 0
    for patient_id in patients:
        with gp.audit_batch():
            together = summary.gather(gp, patient_id)
            rows = gp.search(f"Patient/{patient_id}/*", on=patient_id, _type=",".join(summary.TOGETHER),
                             _total="none", _count=summary.TOGETHER_COUNT)
        with monkeypatch.context() as m:
            m.setattr(summary, "TOGETHER_COUNT", 1)  # every record "too full": the per-type searches
            with gp.audit_batch():
                per_type = summary.gather(gp, patient_id)
        assert ids(together) == ids(per_type), patient_id
        filtered_out += sum(1 for r in rows if r["resourceType"] in summary._FILTERS
                            and not summary._FILTERS[r["resourceType"]](r))
    # The seed has stopped medicines and resolved problems: the filters were exercised.
    assert filtered_out > 0


def test_the_compartment_search_is_refused_without_a_care_relationship(app):
    hospital = clinician_for(app, "hospital_doctor")
    outsider = next(p for p in sorted(clinician_for(app, "gp").care_patients())
                    if p not in hospital.care_patients())
    with pytest.raises(Forbidden) as refusal:
        with hospital.audit_batch():
            summary.gather(hospital, outsider)
    assert getattr(refusal.value, "access_reason", None) in ("purpose-required", "blocked")


def test_a_smaller_max_page_size_does_not_cut_the_summary(portal_db, tmp_path_factory, monkeypatch):
    """settings.max_page_size caps the one compartment search's _count (search.html#count);
    a page it filled is a record too full for one page, as a page of TOGETHER_COUNT is, so
    every section is read per type and none is left out (allergies, medicines, flags)."""
    from ehelse.web.app import create_app

    path = copy_db(portal_db, tmp_path_factory.mktemp("clinician-gather-small-pages"))
    small = create_app(get_settings(database_url=f"sqlite:///{path}", rate_limit=0, max_page_size=5))
    gp = clinician_for(small, "gp")
    checked = 0
    for patient_id in sorted(gp.care_patients()):
        with gp.audit_batch():
            together = summary.gather(gp, patient_id)
        with monkeypatch.context() as m:
            m.setattr(summary, "TOGETHER_COUNT", 1)  # the per-type searches, each capped at 5
            with gp.audit_batch():
                per_type = summary.gather(gp, patient_id)
        assert ids(together) == ids(per_type), patient_id
        checked += sum(len(v) for k, v in ids(per_type).items() if k not in ("patient", "contacts")) > 5
    assert checked  # some record holds more than one page of 5
