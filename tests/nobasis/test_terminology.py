"""Terminology operations over the Norwegian demo subsets, R4 core, and loaded files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ehelse.errors import BadRequest, NotFound
from ehelse.nobasis.terminology import ATC, ICD10, ICPC2
from ehelse.nobasis.terminology.loader import derive_parents, load_codesystem
from ehelse.storage.memory import MemoryRepository
from ehelse.terminology.operations import (
    OPERATIONS, check_code, expand, lookup, subsumes, translate, validate_code,
)
from ehelse.terminology.text import TypeAheadIndex, fold

DATA = Path(__file__).parent / "data"
ICD10_VS = "http://ehelse.no/fhir/ValueSet/icd10"
ICPC2_VS = "http://ehelse.no/fhir/ValueSet/icpc2"


def _param(parameters, name):
    return [p for p in parameters["parameter"] if p["name"] == name]


def _codes(valueset):
    return [c["code"] for c in valueset["expansion"].get("contains", [])]


def test_lookup_norwegian_display_and_parent():
    result = lookup(ATC, "A10BA02")
    assert _param(result, "display")[0]["valueString"] == "metformin"
    parents = [p["part"][1]["valueCode"] for p in _param(result, "property") if p["part"][0]["valueCode"] == "parent"]
    assert parents == ["A10BA"]


def test_lookup_by_either_system_form():
    by_oid = lookup(ICPC2, "T90")
    by_uri = lookup("http://hl7.org/fhir/sid/icpc-2", "T90")
    assert _param(by_oid, "display") == _param(by_uri, "display") == [{"name": "display", "valueString": "Diabetes type 2"}]


def test_lookup_errors():
    with pytest.raises(NotFound):
        lookup("http://example.org/no-such-system", "x")
    with pytest.raises(NotFound):
        lookup(ICD10, "Q999X")
    with pytest.raises(BadRequest):
        lookup(ICD10, None)


def test_expand_filter_code_prefix_and_words():
    assert _codes(expand(ICD10_VS, filter="E11"))[:2] == ["E11", "E112"]
    words = _codes(expand(ICD10_VS, filter="diab type 2 uten"))
    assert words == ["E119"]


@pytest.mark.parametrize("typed", ["øre", "Øre", "ore", "oere"])
def test_expand_folds_norwegian_letters(typed):
    assert "H01" in _codes(expand(ICPC2_VS, filter=typed))  # Øresmerte/øreverk


def test_expand_accent_and_case_insensitive():
    assert "I10" in _codes(expand(ICD10_VS, filter="PRIMÆR"))
    assert fold("Ødem på lårhals é") == "odem pa larhals e"


def test_expand_count_offset_total():
    everything = expand(ICD10_VS, filter="E1")
    page = expand(ICD10_VS, filter="E1", count=3, offset=2)
    assert page["expansion"]["total"] == everything["expansion"]["total"] > 5
    assert page["expansion"]["offset"] == 2
    assert _codes(page) == _codes(everything)[2:5]


def test_expand_unknown_valueset():
    with pytest.raises(NotFound):
        expand("http://example.org/ValueSet/nope")


def test_expand_r4_core_valueset():
    assert _codes(expand("http://hl7.org/fhir/ValueSet/administrative-gender")) == ["male", "female", "other", "unknown"]


def test_expand_is_a_filter_inline_valueset():
    valueset = {"resourceType": "ValueSet", "url": "http://example.org/vs/diabetes", "status": "active",
                "compose": {"include": [{"system": ICD10, "filter": [{"property": "concept", "op": "is-a",
                                                                         "value": "E10"}]}]}}
    assert _codes(expand(valueset)) == ["E10", "E101", "E102", "E103", "E109"]


def test_validate_code():
    ok = validate_code(ICD10_VS, ICD10, "E119")
    assert _param(ok, "result")[0]["valueBoolean"] is True
    missing = validate_code(ICD10_VS, ICD10, "E11.9X")
    assert _param(missing, "result")[0]["valueBoolean"] is False
    wrong_display = validate_code(ICD10_VS, ICD10, "I10", display="Hjertesvikt")
    assert _param(wrong_display, "result")[0]["valueBoolean"] is False
    in_system = validate_code(None, ATC, "C09AA02", display="enalapril")
    assert _param(in_system, "result")[0]["valueBoolean"] is True


def test_check_code_for_bindings():
    gender = "http://hl7.org/fhir/ValueSet/administrative-gender"
    assert check_code(gender, "http://hl7.org/fhir/administrative-gender", "female") is True
    assert check_code(gender, "http://hl7.org/fhir/administrative-gender", "kvinne") is False
    assert check_code("http://example.org/ValueSet/unknown", None, "x") is None


@pytest.mark.parametrize("a, b, outcome", [
    ("E11", "E119", "subsumes"), ("E119", "E11", "subsumed-by"), ("E11", "E11", "equivalent"),
    ("E10", "E119", "not-subsumed"), ("IV", "E119", "subsumes"),
])
def test_subsumes(a, b, outcome):
    assert _param(subsumes(ICD10, a, b), "outcome")[0]["valueCode"] == outcome


def test_subsumes_unknown_code():
    with pytest.raises(BadRequest):
        subsumes(ICD10, "E11", "NOPE")


def test_translate_icpc2_to_icd10_and_back():
    result = translate(None, "http://hl7.org/fhir/sid/icpc-2", "K86")
    assert _param(result, "result")[0]["valueBoolean"] is True
    concept = _param(result, "match")[0]["part"][1]["valueCoding"]
    assert (concept["system"], concept["code"]) == (ICD10, "I10")
    back = translate(None, ICD10, "I10", reverse=True)
    assert _param(back, "match")[0]["part"][1]["valueCoding"]["code"] == "K86"
    assert _param(translate(None, ICPC2, "A03"), "result")[0]["valueBoolean"] is False


def test_translate_r4_core_map():
    result = translate("http://hl7.org/fhir/ConceptMap/cm-address-use-v2", "http://hl7.org/fhir/address-use", "home")
    assert _param(result, "match")[0]["part"][1]["valueCoding"]["code"] == "H"


def test_http_adapters_get_and_post():
    status, result = OPERATIONS[("CodeSystem", "$lookup")]({"system": [ATC], "code": ["A10BA02"]}, None, None)
    assert status == 200 and _param(result, "display")[0]["valueString"] == "metformin"
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "codingA", "valueCoding": {"system": ICD10, "code": "E11"}},
        {"name": "codingB", "valueCoding": {"system": ICD10, "code": "E119"}}]}
    status, result = OPERATIONS[("CodeSystem", "$subsumes")]({}, body, None)
    assert _param(result, "outcome")[0]["valueCode"] == "subsumes"
    status, result = OPERATIONS[("ValueSet", "$expand")]({"url": [ICD10_VS], "filter": ["astma"], "count": ["2"]},
                                                         None, None)
    assert len(_codes(result)) == 2
    with pytest.raises(BadRequest):
        OPERATIONS[("ValueSet", "$expand")]({"url": [ICD10_VS], "count": ["many"]}, None, None)
    with pytest.raises(BadRequest):
        OPERATIONS[("ValueSet", "$expand")]({}, None, None)


def test_loader_tab_file_with_header_and_derived_hierarchy():
    resource = load_codesystem(DATA / "icd10_sample.txt")
    assert resource["url"] == ICD10 and resource["content"] == "complete"
    concepts = {c["code"]: c for c in resource["concept"]}
    assert concepts["E119"]["display"] == "Diabetes mellitus type 2 uten komplikasjoner"
    assert concepts["E119"]["property"] == [{"code": "parent", "valueCode": "E11"}]
    assert "property" not in concepts["J449"]  # J44 is not in the file


def test_loader_cp1252_semicolon_without_header():
    resource = load_codesystem(DATA / "atc_sample.csv")
    concepts = {c["code"]: c for c in resource["concept"]}
    assert concepts["A10B"]["display"] == "Blodglukosesenkende midler, ekskl. insuliner"
    assert concepts["A10BA02"]["property"][0]["valueCode"] == "A10BA"


def test_loader_explicit_parent_column_and_unknown_system():
    resource = load_codesystem(DATA / "local_codes.csv", "http://example.org/local")
    concepts = {c["code"]: c for c in resource["concept"]}
    assert concepts["X3"]["property"][0]["valueCode"] == "X2" and concepts["X1"]["display"] == "Første"
    with pytest.raises(BadRequest, match="--system"):
        load_codesystem(DATA / "local_codes.csv")


def test_derive_parents_ignores_dots():
    assert derive_parents(["E11", "E11.9", "A", "A10", "A10BA02"]) == {"E11.9": "E11", "A10": "A", "A10BA02": "A10"}


def test_loaded_codesystem_in_repository_replaces_demo_subset():
    repo = MemoryRepository()
    resource = load_codesystem(DATA / "icd10_sample.txt")
    repo.update(resource)
    assert _param(lookup(ICD10, "E10", repo=repo), "display")[0]["valueString"] == "Diabetes mellitus type 1"
    with pytest.raises(NotFound):
        lookup(ICD10, "I50", repo=repo)  # in the demo subset, not in the loaded file
    assert _codes(expand(ICD10_VS, repo=repo)) == ["E10", "E11", "E119", "I10", "J449"]
    assert lookup(ICD10, "I50")  # without the repository: the demo subset still answers


def test_type_ahead_index_orders_code_matches_first():
    index = TypeAheadIndex([("K86", "Hypertensjon ukomplisert"), ("K87", "Hypertensjon med komplikasjoner"),
                            ("H01", "K86-lignende øresmerte")])
    assert index.search("k86") == [0, 2]
    assert index.search("hyper") == [0, 1]
    assert index.search("hyper kompl") == [1]  # word starts only: "ukomplisert" does not match "kompl"
    assert index.search("") == [0, 1, 2]


def test_cli_load_stores_the_codesystem(tmp_path):
    from typer.testing import CliRunner

    from ehelse.cli.terminology import app
    from ehelse.storage import open_repository

    url = f"sqlite:///{tmp_path / 'ehelse.sqlite'}"
    result = CliRunner().invoke(app, ["load", str(DATA / "icd10_sample.txt"), "--database", url])
    assert result.exit_code == 0, result.output
    repo = open_repository(url)
    try:
        stored = repo.read("CodeSystem", "icd10")
        assert stored is not None and b"E119" in stored.content
    finally:
        repo.close()
