"""The generated population: valid synthetic numbers, references that resolve, households
whose ages and addresses make the representation rules matter, real municipalities."""

from __future__ import annotations

import json
from datetime import date
from collections import Counter
from importlib import resources as package_files

from seedsupport import REFERENCE_DATE, by_type, index

from ehelse.nobasis.identifiers import is_valid_dnr, is_valid_fnr, is_valid_hpr, is_valid_orgnr
from ehelse.nobasis.seed.datatypes import age_on
from ehelse.nobasis.seed.vocabulary import DNR, ENH, EXT_MUNICIPALITY, FNR, HPR, PARENTAL_RESPONSIBILITY


def _references(node, found: list[str]) -> list[str]:
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            found.append(node["reference"])
        for value in node.values():
            _references(value, found)
    elif isinstance(node, list):
        for value in node:
            _references(value, found)
    return found


def test_every_person_number_is_synthetic_and_valid(larger):
    numbers = [i for r in larger if r["resourceType"] in ("Patient", "RelatedPerson") for i in r["identifier"]
               if i["system"] in (FNR, DNR)]
    assert len(numbers) > 200
    for identifier in numbers:
        value = identifier["value"]
        assert 81 <= int(value[2:4]) <= 92, value  # month + 80: never a real person's number
        assert (is_valid_dnr if identifier["system"] == DNR else is_valid_fnr)(value), value
    patients = [p["identifier"][0]["value"] for p in by_type(larger, "Patient")]
    assert len(patients) == len(set(patients)) == 200


def test_some_adults_have_a_d_number(larger):
    dnr = [p for p in by_type(larger, "Patient") if p["identifier"][0]["system"] == DNR]
    assert dnr and all(int(p["identifier"][0]["value"][0]) >= 4 for p in dnr)  # day + 40


def test_every_reference_resolves(larger):
    present = set(index(larger))
    references = _references(larger, [])
    assert len(references) > 10_000
    missing = Counter(r for r in references if r not in present)
    assert not missing, missing.most_common(5)
    attachments = [r["content"][0]["attachment"]["url"] for r in by_type(larger, "DocumentReference")]
    assert attachments and all(url in present for url in attachments)


def test_ages_are_spread_so_the_rules_matter(larger):
    ages = [age_on(date.fromisoformat(p["birthDate"]), REFERENCE_DATE)
            for p in by_type(larger, "Patient")]
    bands = Counter("<12" if a < 12 else "12-15" if a < 16 else "16-17" if a < 18 else "18-66" if a < 67 else "67+"
                    for a in ages)
    assert bands["<12"] >= 15 and bands["12-15"] >= 5 and bands["16-17"] >= 1
    assert bands["18-66"] >= 80 and bands["67+"] >= 15


def test_children_have_parents_with_responsibility_at_least_one_at_home(larger):
    resources = index(larger)
    parents: dict[str, list[dict]] = {}
    for related in by_type(larger, "RelatedPerson"):
        if any(c["coding"][0]["system"] == PARENTAL_RESPONSIBILITY for c in related["relationship"]):
            parents.setdefault(related["patient"]["reference"], []).append(related)
    children = [p for p in by_type(larger, "Patient")
                if age_on(date.fromisoformat(p["birthDate"]), REFERENCE_DATE) < 18]
    assert children
    apart = 0
    for child in children:
        mine = parents[f"Patient/{child['id']}"]
        home = child["address"][0]["line"]
        at_home = [p for p in mine if resources[p["patient"]["extension"][0]["valueReference"]["reference"]]
                   ["address"][0]["line"] == home]
        assert at_home, child["id"]
        apart += len(at_home) < len(mine)
    assert apart >= 1  # some parents live apart: one at the child's address, one not


def test_elderly_with_fullmakt_and_people_lacking_capacity(larger):
    categories = Counter(c["category"][0]["coding"][0]["code"] for c in by_type(larger, "Consent"))
    assert categories["fullmakt"] >= 2 and categories["lack-of-capacity"] >= 1
    for consent in by_type(larger, "Consent"):
        assert consent["policyRule"] and consent["scope"]  # ppc-1 and the required scope


def test_organisations_and_personnel_have_valid_numbers(larger):
    orgnrs = [i["value"] for o in by_type(larger, "Organization") for i in o["identifier"] if i["system"] == ENH]
    assert len(orgnrs) == len(by_type(larger, "Organization")) and all(map(is_valid_orgnr, orgnrs))
    hprs = [i["value"] for p in by_type(larger, "Practitioner") for i in p["identifier"] if i["system"] == HPR]
    assert hprs and all(map(is_valid_hpr, hprs)) and len(hprs) == len(set(hprs))
    names = " ".join(o["name"] for o in by_type(larger, "Organization"))
    assert "legesenter" in names and "HF" in names and "Hjemmetjenesten" in names and "Apotek" in names


def test_addresses_name_real_municipalities_and_postcodes(larger):
    data = json.loads(package_files.files("ehelse.nobasis.seed").joinpath("data/kommuner.json").read_text("utf-8"))
    known = {k["number"]: (k["name"], {tuple(p) for p in k["postcodes"]}) for k in data["kommuner"]}
    for patient in by_type(larger, "Patient"):
        address = patient["address"][0]
        (extension,) = address["_district"]["extension"]
        assert extension["url"] == EXT_MUNICIPALITY
        name, postcodes = known[extension["valueCoding"]["code"]]
        assert address["district"] == name
        assert (address["postalCode"], address["city"]) in postcodes


def test_a_few_confidential_addresses_and_privacy_choices(larger):
    labelled = [p for p in by_type(larger, "Patient") if p.get("meta", {}).get("security")]
    assert 1 <= len(labelled) <= 10


def test_chronic_conditions_come_with_measurements_over_years(larger):
    hba1c = [o for o in by_type(larger, "Observation") if o["code"]["coding"][0]["code"] == "59261-8"]
    assert hba1c
    by_patient = Counter(o["subject"]["reference"] for o in hba1c)
    patient, count = by_patient.most_common(1)[0]
    years = {o["effectiveDateTime"][:4] for o in hba1c if o["subject"]["reference"] == patient}
    assert count >= 4 and len(years) >= 2
    assert all(o["referenceRange"][0]["high"]["value"] == 42 for o in hba1c)
    lists = by_type(larger, "List")
    assert lists and all(e["item"]["reference"].startswith("MedicationRequest/") for l in lists for e in l["entry"])
