"""The fixed demo cast is present and shaped the way DOMAIN.md writes the rules in FHIR."""

from __future__ import annotations

import base64

from seedsupport import REFERENCE_DATE, by_type, index, population

from ehelse.nobasis.identifiers import is_valid_hpr, is_valid_orgnr
from ehelse.nobasis.seed import DEMO_CAST
from ehelse.nobasis.seed.datatypes import age_on
from ehelse.nobasis.seed.vocabulary import (
    CONSENT_CATEGORY, EXT_PERSON_REFERENCE, FNR, HPR, PARENTAL_RESPONSIBILITY, SECURITY_LABEL,
)

CITIZENS = [m for m in DEMO_CAST.values() if m.fnr]
PERSONNEL = [m for m in DEMO_CAST.values() if m.hpr]


def _official_home(patient: dict) -> dict:
    (address,) = [a for a in patient["address"] if a["use"] == "home"]
    assert address["extension"][0]["valueBoolean"] is True  # no-basis-address-official
    return {k: address[k] for k in ("line", "postalCode", "city", "district")}


def _consents(resources: list[dict], category: str, patient_id: str) -> list[dict]:
    def is_it(consent: dict) -> bool:
        coding = consent["category"][0]["coding"][0]
        return (coding["system"], coding["code"]) == (CONSENT_CATEGORY, category) \
            and consent["patient"]["reference"] == f"Patient/{patient_id}"

    return [c for c in by_type(resources, "Consent") if is_it(c)]


def test_every_cast_member_is_there_with_their_login(seeded):
    resources = index(seeded)
    for member in CITIZENS:
        patient = resources[f"Patient/{member.id}"]
        assert patient["identifier"][0] == {"system": FNR, "value": member.fnr, "use": "official"}
        assert patient["birthDate"] == member.birth_date.isoformat()
    for member in PERSONNEL:
        practitioner = resources[f"Practitioner/{member.id}"]
        assert practitioner["identifier"][0]["system"] == HPR and practitioner["identifier"][0]["value"] == member.hpr
        assert is_valid_hpr(member.hpr) and is_valid_orgnr(member.orgnr)
        role = resources[f"PractitionerRole/{member.role_id}"]
        assert role["practitioner"]["reference"] == f"Practitioner/{member.id}"
        assert role["organization"]["reference"] == f"Organization/{member.organization_id}"


def test_no_cast_below_twenty_patients():
    assert not [r for r in population(19, 1) if r["id"].startswith("demo-")]


def test_parents_have_responsibility_and_share_the_childrens_address(seeded):
    resources = index(seeded)
    for child in ("emma", "jonas"):
        child_id = DEMO_CAST[child].id
        parents = [r for r in by_type(seeded, "RelatedPerson") if r["patient"]["reference"] == f"Patient/{child_id}"]
        assert {p["identifier"][0]["value"] for p in parents} == {DEMO_CAST["kari"].fnr, DEMO_CAST["ola"].fnr}
        for parent in parents:
            codes = {c["coding"][0]["system"]: c["coding"][0]["code"] for c in parent["relationship"]}
            assert codes[PARENTAL_RESPONSIBILITY] == "felles"
            (extension,) = parent["patient"]["extension"]
            assert extension["url"] == EXT_PERSON_REFERENCE
            own = resources[extension["valueReference"]["reference"]]
            assert own["identifier"][0]["value"] == parent["identifier"][0]["value"]
            assert _official_home(own) == _official_home(resources[f"Patient/{child_id}"])


def test_ages_make_the_rules_matter(seeded):
    assert age_on(DEMO_CAST["emma"].birth_date, REFERENCE_DATE) == 9
    assert age_on(DEMO_CAST["jonas"].birth_date, REFERENCE_DATE) == 14
    assert age_on(DEMO_CAST["astrid"].birth_date, REFERENCE_DATE) == 82


def test_fullmakt_for_the_82_year_old_is_held_by_her_daughter(seeded):
    resources = index(seeded)
    (fullmakt,) = _consents(seeded, "fullmakt", DEMO_CAST["astrid"].id)
    provision = fullmakt["provision"]
    assert fullmakt["status"] == "active" and provision["type"] == "permit"
    assert provision["period"] == {"start": "2025-09-01", "end": "2028-09-01"}
    holder = resources[provision["actor"][0]["reference"]["reference"]]
    assert holder["resourceType"] == "RelatedPerson"
    assert holder["identifier"][0]["value"] == DEMO_CAST["liv"].fnr
    assert holder["patient"]["reference"] == f"Patient/{DEMO_CAST['astrid'].id}"
    assert holder["relationship"][0]["coding"][0]["code"] == "barn"
    assert provision["purpose"][0]["code"] == "3"


def test_lack_of_capacity_has_a_nearest_relative_for_at_most_five_years(seeded):
    (consent,) = _consents(seeded, "lack-of-capacity", DEMO_CAST["knut"].id)
    period = consent["provision"]["period"]
    assert int(period["end"][:4]) - int(period["start"][:4]) <= 5
    assert consent["provision"]["actor"][0]["role"]["coding"][0]["code"] == "NOK"


def test_a_patient_has_blocked_one_named_doctor(seeded):
    (block,) = _consents(seeded, "block", DEMO_CAST["per"].id)
    assert block["provision"]["type"] == "deny"
    (actor,) = block["provision"]["actor"]
    assert actor["reference"]["reference"] == f"Practitioner/{DEMO_CAST['hospital_doctor'].id}"


def test_something_in_the_14_year_olds_record_is_withheld_from_parents(seeded):
    jonas = f"Patient/{DEMO_CAST['jonas'].id}"
    withheld = [r for r in seeded if (r.get("subject") or {}).get("reference") == jonas
                and any(s["code"] == "withheld-from-parents" for s in r.get("meta", {}).get("security", []))]
    assert {r["resourceType"] for r in withheld} >= {"Encounter", "Condition"}
    emma = f"Patient/{DEMO_CAST['emma'].id}"
    assert not [r for r in seeded if (r.get("subject") or {}).get("reference") == emma and r.get("meta", {}).get("security")]


def test_strictly_confidential_address_is_labelled(seeded):
    sara = index(seeded)[f"Patient/{DEMO_CAST['sara'].id}"]
    assert {(s["system"], s["code"]) for s in sara["meta"]["security"]} >= {(SECURITY_LABEL, "strengt-fortrolig-adresse")}


def test_the_gp_has_a_list_and_the_nurse_has_home_care(seeded):
    gp_role = f"PractitionerRole/{DEMO_CAST['gp'].role_id}"
    listed = [p for p in by_type(seeded, "Patient") if p["generalPractitioner"][0]["reference"] == gp_role]
    assert {p["id"] for p in listed} >= {m.id for m in CITIZENS}
    assert len(listed) > len(CITIZENS)  # generated Oslo residents join the list
    episodes = [e for e in by_type(seeded, "EpisodeOfCare")
                if e["patient"]["reference"] == f"Patient/{DEMO_CAST['astrid'].id}"]
    assert episodes and episodes[0]["careManager"]["reference"] == f"Practitioner/{DEMO_CAST['nurse'].id}"
    assert episodes[0]["managingOrganization"]["reference"] == f"Organization/{DEMO_CAST['nurse'].organization_id}"


def test_the_hospital_doctor_wrote_a_discharge_summary(seeded):
    resources = index(seeded)
    document = resources["DocumentReference/demo-epikrise-astrid"]
    assert document["author"][0]["reference"] == f"PractitionerRole/{DEMO_CAST['hospital_doctor'].role_id}"
    binary = resources[document["content"][0]["attachment"]["url"]]
    text = base64.b64decode(binary["data"]).decode("utf-8")
    assert "EPIKRISE" in text and "Hjertesvikt" in text and "Astrid Hansen" in text
