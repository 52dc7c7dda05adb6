"""ViewDefinition validation: invalid views are 400s that point into the view."""

from __future__ import annotations

import pytest

from ehelse.analytics.viewdefinition import InvalidView, parse_view

COLUMN = {"name": "id", "path": "id"}


@pytest.mark.parametrize("view,expression,needle", [
    ({"select": [{"column": [COLUMN]}]}, "ViewDefinition.resource", "resource is required"),
    ({"resource": "Nonsense", "select": [{"column": [COLUMN]}]}, "ViewDefinition.resource", "not an R4 resource type"),
    ({"resource": "Patient", "select": []}, "ViewDefinition.select", "at least one select"),
    ({"resource": "Patient", "select": [{"column": [COLUMN, COLUMN]}]}, "ViewDefinition.select", "used twice"),
    ({"resource": "Patient", "select": [{"column": [COLUMN]}, {"column": [COLUMN]}]}, "ViewDefinition.select", "used twice"),
    ({"resource": "Patient", "select": [{"forEach": "name", "forEachOrNull": "name", "column": [COLUMN]}]},
     "ViewDefinition.select[0]", "only one of forEach"),
    ({"resource": "Patient", "select": [{"column": [{"name": "1st", "path": "id"}]}]},
     "ViewDefinition.select[0].column[0].name", "valid SQL name"),
    ({"resource": "Patient", "select": [{"column": [{"name": "a", "path": "id", "type": "Nope"}]}]},
     "ViewDefinition.select[0].column[0].type", "not a FHIR type"),
    ({"resource": "Patient", "select": [{"column": [{"name": "a", "path": "id", "collection": "yes"}]}]},
     "ViewDefinition.select[0].column[0].collection", "true or false"),
    ({"resource": "Patient", "constant": [{"name": "c", "valueString": "x", "valueInteger": 1}],
      "select": [{"column": [COLUMN]}]}, "ViewDefinition.constant[0]", "exactly one value"),
    ({"resource": "Patient", "select": [{"column": [{"name": "a", "path": "name.where(use = %nope)"}]}]},
     "ViewDefinition.select[0].column[0].path", "undefined environment variable: nope"),
    ({"resource": "Patient", "select": [{"repeat": [], "column": [COLUMN]}]}, "ViewDefinition.select[0].repeat",
     "non-empty list"),
    ({"resource": "Patient", "select": [{}]}, "ViewDefinition.select[0]", "needs a column"),
    ({"resource": "Patient", "where": [{"path": "name.("}], "select": [{"column": [COLUMN]}]}, None, "does not parse"),
])
def test_invalid_views(view, expression, needle):
    with pytest.raises(InvalidView) as caught:
        parse_view(view)
    issue = caught.value.issues[0]
    assert needle in issue.diagnostics
    assert caught.value.status == 400
    if expression:
        assert issue.expression == expression


def test_a_valid_view_gives_its_columns_in_order():
    view = parse_view({"resource": "Patient", "select": [
        {"column": [COLUMN]},
        {"forEach": "name", "column": [{"name": "family", "path": "family"}],
         "select": [{"forEachOrNull": "given", "column": [{"name": "given", "path": "$this"}]}]},
        {"unionAll": [{"column": [{"name": "u", "path": "gender"}]}, {"column": [{"name": "u", "path": "'x'"}]}]}]})
    assert view.column_names() == ["id", "family", "given", "u"]
