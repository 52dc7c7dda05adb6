"""The Spark engine's typed read (engines/spark.py typed_schema): the JSON reader's schema of
only the paths a compiled view reads, and the view's SQL rewritten to read them. No Spark
needed for the schema; the spec suite and the library test run the typed read (the
default) against the runner, and the last test here runs malformed and off-type data."""

from __future__ import annotations

import pytest

from ehelse.analytics.engines.dialects import Spark
from ehelse.analytics.engines.spark import typed_schema
from ehelse.analytics.engines.spark_compile import compile_spark
from ehelse.analytics.viewdefinition import parse_view


def typed(view: dict) -> tuple[str, str] | None:
    return typed_schema(compile_spark(parse_view(view), Spark(), "__SOURCE__").sql)


def test_flat_observation_reads_only_its_paths():
    schema, sql = typed({"resource": "Observation", "select": [{"column": [
        {"name": "id", "path": "getResourceKey()"},
        {"name": "patient", "path": "subject.getReferenceKey(Patient)"},
        {"name": "code", "path": "code.coding.code.first()"},
        {"name": "name", "path": "code.text"},
        {"name": "value", "path": "value.ofType(Quantity).value"},
        {"name": "effective", "path": "effective.ofType(dateTime)"}]}]})
    fields = dict(f.split(" ", 1) for f in _top_level(schema))
    assert fields == {"`id`": "string", "`subject`": "struct<`reference`: string>",
                      "`code`": "struct<`coding`: variant, `text`: string>",
                      "`valueQuantity`": "struct<`value`: string>", "`effectiveDateTime`": "string",
                      "`resourceType`": "string"}
    # primitives are read as their JSON text and cast as VARIANT would cast them
    assert "try_cast(s.`valueQuantity`.`value` AS double)" in sql
    assert "s.`code`.`text` AS `name`" in sql
    assert "s.r" not in sql


def test_a_path_read_itself_and_below_is_one_variant():
    # name is a list (forEach) and name.family read below it: name is read as one VARIANT
    schema, sql = typed({"resource": "Patient", "select": [
        {"column": [{"name": "active", "path": "active"}]},
        {"forEach": "name", "column": [{"name": "family", "path": "family"}]}]})
    assert "`name` variant" in schema and "`active` string" in schema
    assert "try_cast(s.`active` AS boolean)" in sql


def test_the_whole_resource_keeps_the_variant_parse():
    # A column of the resource itself needs all of it: no typed read.
    assert typed({"resource": "Patient", "select": [{"column": [{"name": "all", "path": "$this"}]}]}) is None
    assert typed_schema("SELECT to_json(s.r) FROM x AS s WHERE try_variant_get(s.r, '$.id', 'string') = 'a'") is None


def _top_level(schema: str) -> list[str]:
    fields, depth, start = [], 0, 0
    for i, ch in enumerate(schema):
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "," and depth == 0:
            fields.append(schema[start:i].strip())
            start = i + 1
    return fields + [schema[start:].strip()]


@pytest.mark.slow
def test_typed_read_agrees_with_the_variant_parse_on_odd_values(spark, tmp_path):
    """Numbers and booleans in the file as JSON text are cast as VARIANT casts them; a
    malformed line is an error on both readers."""
    from ehelse.analytics.engines import run
    from ehelse.analytics.sources import FileSource
    from ehelse.analytics.viewdefinition import InvalidView

    view = parse_view({"resource": "Observation", "select": [{"column": [
        {"name": "id", "path": "id"}, {"name": "value", "path": "value.ofType(Quantity).value"},
        {"name": "unit", "path": "value.ofType(Quantity).unit"}, {"name": "text", "path": "code.text"}]}]})
    good = tmp_path / "good.ndjson"
    good.write_text(
        '{"resourceType":"Observation","id":"a","valueQuantity":{"value":130,"unit":"mmHg"}}\n'
        '{"resourceType":"Observation","id":"b","valueQuantity":{"value":1.5e-3},"code":{"text":"x, \\"y\\""}}\n'
        '\n'
        '{"resourceType":"Patient","id":"p"}\n'
        '{"resourceType":"Observation","id":"c","code":{}}\n')
    rows = {}
    for reader in ("typed", "variant"):
        result = run(view, FileSource([good]), engine="spark", spark=spark, reader=reader)
        rows[reader] = sorted(result.rows, key=lambda r: r["id"])
    assert rows["typed"] == rows["variant"] == [
        {"id": "a", "value": 130.0, "unit": "mmHg", "text": None},
        {"id": "b", "value": 0.0015, "unit": None, "text": 'x, "y"'},
        {"id": "c", "value": None, "unit": None, "text": None}]
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"resourceType":"Observation","id":"a"}\n{"resourceType": "Observ\n')
    for reader in ("typed", "variant"):
        with pytest.raises(InvalidView):
            list(run(view, FileSource([bad]), engine="spark", spark=spark, reader=reader).rows)
