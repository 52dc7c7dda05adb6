"""The practitioner's care rights are shared between requests (access/view.py:
_care_rights); a patient opened by emergency access in one request must not leak into the
shared mapping and so into another request's view."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fhir"))
from access_world import C, TODAY, actor  # noqa: E402
from router_client import RouterClient  # noqa: E402

from ehelse.access.policy import AccessPolicy  # noqa: E402
from ehelse.access.repository import SecuredRepository  # noqa: E402


def test_emergency_patient_stays_in_its_own_request(world):
    repo, _ = world
    policy = AccessPolicy(TODAY)  # one process-wide policy: the care rights are shared
    doctor = C["hospital_doctor"]
    emergency = actor("practitioner", doctor.hpr, organization=doctor.orgnr, purpose="ETREAT",
                      reason="Innlagt bevisstløs", token_id="shared-rights-token")
    first = SecuredRepository(repo, emergency, policy)
    assert RouterClient(first).get("Observation/obs-demo-knut").status == 200
    assert first.view.relation("demo-knut") == "emergency"
    # same practitioner, same purpose, no reason: not emergency, so refused
    plain = actor("practitioner", doctor.hpr, organization=doctor.orgnr, purpose="ETREAT",
                  token_id="shared-rights-other")
    second = SecuredRepository(repo, plain, policy)
    assert "demo-knut" not in second.view.patients
    assert RouterClient(second).get("Observation/obs-demo-knut").status == 403
