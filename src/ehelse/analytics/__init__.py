"""Analysis-ready tables (SQL on FHIR v2) and privacy by design (strategy goal 3).

    viewdefinition.py   parse + validate a ViewDefinition into a tree (all engines share it)
    fhirpath_functions.py  getResourceKey() / getReferenceKey() for FHIRPath
    runner.py           the in-process reference runner (fhirpathpy), streaming
    engines/duckdb.py   compile a view to DuckDB SQL over NDJSON/Parquet or the live database
    engines/spark.py    compile a view to Spark SQL over NDJSON (local or a cluster)
    sources.py          where resources come from: a Repository, NDJSON files, inline lists
    output.py           write rows as csv / ndjson / parquet / json
    pseudonymise.py     research extracts: keyed pseudonyms, coarse dates, identifiers removed
    suppress.py         small-cell suppression with secondary suppression
    audit.py            audit_run(): an AuditEvent for every analysis run
    library/            ViewDefinitions Norwegian analysts need, as JSON
"""

from __future__ import annotations

from typing import Any


def audit_run(actor: Any, view: Any, patients_touched: Any, purpose: str | None, repo: Any = None, **kw: Any):
    """Record an AuditEvent for one analysis run (see audit.py)."""
    from ehelse.analytics.audit import audit_run as _audit_run

    return _audit_run(actor, view, patients_touched, purpose, repo=repo, **kw)
