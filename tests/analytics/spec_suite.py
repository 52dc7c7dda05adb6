"""Load the SQL on FHIR v2 spec tests (tests/analytics/spec/*.json, see SOURCE.md there)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

SPEC_DIR = Path(__file__).parent / "spec"

# Spec tests this suite's stored revision gets wrong or that contradict later revisions of the
# same suite; each is expected to fail, with the reason (checked: a fixed one fails the run).
KNOWN_BAD = {
    ("fn_reference_keys.json", "getReferenceKey result matches getResourceKey without type specifier"):
        "stored revision lists two rows for three patients (p3 has no link: its row is null)",
    ("fn_reference_keys.json", "getReferenceKey result matches getResourceKey with right type specifier"):
        "same: two rows listed for three patients",
    ("fn_reference_keys.json", "getReferenceKey result matches getResourceKey with wrong type specifier"):
        "same: two rows listed for three patients",
    ("basic.json", "where as name.family"):
        "older revision: a where path giving a string is taken as true; validate.json (newer) "
        "requires a boolean and we follow it",
    ("constant.json", "constant in where element"):
        "older revision: where path gives a HumanName, not a boolean (see validate.json)",
    ("repeat.json", "repeat: item and answer.item"):
        "typo in the stored revision: expects 'Follow up to 1.1', the resource says 'Follow-up to 1.1'",
    ("repeat.json", "repeat: combined with forEach"):
        "stored revision puts the answer of item 1.1 on the row of item 1",
    ("repeat.json", "repeat: empty expression"):
        "stored revision expects no rows for a repeat over 'item' that has five items "
        "(contradicts 'repeat: basic' with the same view)",
}


def spec_cases() -> list[tuple[str, int, dict[str, Any], dict[str, Any]]]:
    cases = []
    for path in sorted(SPEC_DIR.glob("*.json")):
        suite = json.loads(path.read_text())
        for i, test in enumerate(suite["tests"]):
            cases.append((path.name, i, suite, test))
    return cases


def default_resource(suite: dict[str, Any], test: dict[str, Any]) -> str | None:
    types = {r["resourceType"] for r in suite["resources"]}
    return next(iter(types)) if len(types) == 1 else None


def expects_error(test: dict[str, Any]) -> bool:
    return "expectError" in test or "expect" not in test


def canonical(rows: list[dict[str, Any]]) -> Counter:
    """Rows as a multiset (the spec compares rows without order)."""
    return Counter(json.dumps(row, sort_keys=True) for row in rows)
