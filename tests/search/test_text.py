"""_text and _content (search.html#text, #content) through the router on both backends:
words of the narrative / of every string, case-, accent- and Norwegian-letter-insensitive."""

from __future__ import annotations

from support import RouterClient, bundle_ids


def narrative(text: str) -> dict:
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{text}</div>'}


def test_text_and_content(sql_repo):
    sql_repo.update({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                     "text": narrative("Pasienten har høyt blodtrykk"), "code": {"text": "Hypertensjon"}})
    sql_repo.update({"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p1"},
                     "text": narrative("Astma hos barn"), "code": {"text": "Astma i Ærøskøbing"}})
    client = RouterClient(sql_repo)
    assert bundle_ids(client.get("Condition", query=[("_text", "blodtrykk")])) == ["c1"]
    assert bundle_ids(client.get("Condition", query=[("_text", "HOYT")])) == ["c1"]
    assert bundle_ids(client.get("Condition", query=[("_text", "hypertensjon")])) == []  # not in the narrative
    assert bundle_ids(client.get("Condition", query=[("_content", "hypertensjon")])) == ["c1"]
    assert bundle_ids(client.get("Condition", query=[("_content", "aeroskobing")])) == ["c2"]
    assert sorted(bundle_ids(client.get("Condition", query=[("_content", "astma,hypertensjon")]))) == ["c1", "c2"]
