"""Which top-level keys the Spark engine reads with an explicit schema (engines/spark.py
top_level_keys): only when every use of the resource is a member path, each key typed from
the R4 model (a JSON string or not). No Spark needed: this is the compile-side decision; the
spec suite and the library test run the pruned reader against the runner."""

from __future__ import annotations

from ehelse.analytics.engines.dialects import Spark
from ehelse.analytics.engines.spark import top_level_keys
from ehelse.analytics.engines.spark_compile import compile_spark
from ehelse.analytics.viewdefinition import parse_view


def keys(view: dict) -> dict[str, bool] | None:
    parsed = parse_view(view)
    return top_level_keys(compile_spark(parsed, Spark(), "__SOURCE__").sql, parsed.resource)


def test_flat_observation_reads_its_seven_keys():
    view = {"resource": "Observation", "select": [{"column": [
        {"name": "id", "path": "getResourceKey()"},
        {"name": "patient", "path": "subject.getReferenceKey(Patient)"},
        {"name": "code", "path": "code.coding.code.first()"},
        {"name": "value", "path": "value.ofType(Quantity).value"},
        {"name": "effective", "path": "effective.ofType(dateTime)"},
        {"name": "status", "path": "status"}]}]}
    assert keys(view) == {"resourceType": True, "id": True, "subject": False, "code": False,
                          "valueQuantity": False, "effectiveDateTime": True, "status": True}


def test_numbers_booleans_and_arrays_are_not_json_strings():
    view = {"resource": "Patient", "select": [{"column": [
        {"name": "active", "path": "active"},
        {"name": "twin", "path": "multipleBirth.ofType(integer)"},
        {"name": "born", "path": "birthDate"}]},
        {"forEach": "name", "column": [{"name": "family", "path": "family"}]}]}
    assert keys(view) == {"resourceType": True, "active": False, "multipleBirthInteger": False,
                          "birthDate": True, "name": False}


def test_where_clause_keys_are_read_too():
    view = {"resource": "Patient", "where": [{"path": "deceased.ofType(boolean).not()"}],
            "select": [{"column": [{"name": "id", "path": "id"}]}]}
    assert keys(view) == {"resourceType": True, "deceasedBoolean": False, "id": True}


def test_the_whole_resource_keeps_every_key():
    # A column of the resource itself needs all of it: no pruning.
    assert keys({"resource": "Patient", "select": [{"column": [{"name": "all", "path": "$this"}]}]}) is None
    assert top_level_keys("SELECT to_json(s.r) FROM x AS s WHERE try_variant_get(s.r, '$.id', 'string') = 'a'",
                          "Patient") is None


def test_a_key_the_model_does_not_know_keeps_every_key():
    assert top_level_keys("SELECT try_variant_get(s.r, '$.notAnElement', 'string') FROM x AS s", "Patient") is None
    assert top_level_keys("SELECT try_variant_get(s.r, '$.valueNonsense', 'string') FROM x AS s",
                          "Observation") is None
