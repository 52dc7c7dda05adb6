"""Small look-ups the access rules make in the underlying (unsecured) repository."""

from __future__ import annotations

from datetime import date
from typing import Any, Iterable

from ehelse.fhir import jsoncodec
from ehelse.storage.protocol import SearchParam, SearchQuery

LIMIT = 5000  # rows per look-up; a GP list or an organisation's open episodes fit


def find(repo: Any, type: str, *, strict: bool = False, **params: str | Iterable[str]) -> list[dict[str, Any]]:
    """Current resources of `type` matching the parameters (a list value is an OR).
    A backend that cannot evaluate a parameter (the in-memory test fake) finds nothing,
    which grants nothing; `strict` look-ups (those that take access away: blocks,
    reservations) raise instead, so they never fail open."""
    return [jsoncodec.loads(v.content, max_depth=10_000) for v in _versions(repo, type, strict, None, params)]


def find_versions(repo: Any, type: str, *, drive: str | None = None,
                  **params: str | Iterable[str]) -> list[Any]:
    """As `find` (never strict), but the stored versions unparsed, for callers that need only
    ids or a few references (access/care.py: a GP's list is a thousand Patients, and the
    exact codec costs ~0.1 ms each). `drive` names the parameters (comma-separated) the
    query starts from (the others are checked per row); None keeps search/compile.py's own choice."""
    return _versions(repo, type, False, drive, params)


def _versions(repo: Any, type: str, strict: bool, drive: str | None, params: dict[str, Any]) -> list[Any]:
    query = SearchQuery(count=LIMIT, total="none")
    supported = repo.supported_search_params(type)
    driving = None if drive is None else {d.replace("_", "-") for d in drive.split(",")}
    for name, value in params.items():
        values = (value,) if isinstance(value, str) else tuple(value)
        code = name.replace("_", "-") if not name.startswith("_") else name
        if not values:
            return []
        if code not in supported and not strict:
            return []
        hint = None if driving is None else code in driving
        query.params.append(SearchParam(code, None, values, hint))
    return list(repo.search(type, query).entries)


def load(repo: Any, type: str, id: str) -> dict[str, Any] | None:
    version = repo.read(type, id)
    if version is None or version.deleted:
        return None
    return jsoncodec.loads(version.content, max_depth=10_000)


def ref_id(reference: Any, type: str) -> str | None:
    """The id in a literal reference `Type/id` (relative or absolute), else None."""
    if not isinstance(reference, dict):
        return None
    text = reference.get("reference")
    if not isinstance(text, str):
        return None
    parts = text.split("/")
    if len(parts) >= 2 and parts[-2] == type:
        return parts[-1]
    if len(parts) >= 4 and parts[-4] == type and parts[-2] == "_history":
        return parts[-3]
    return None


def age(birth_date: str | None, today: date) -> int | None:
    """Whole years on `today`: a person turns 12 on the twelfth birthday itself."""
    if not isinstance(birth_date, str) or len(birth_date) < 10:
        return None
    try:
        born = date.fromisoformat(birth_date[:10])
    except ValueError:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def in_period(period: Any, today: date) -> bool:
    """Inside a FHIR Period on `today` (both ends inclusive, by date)."""
    if not isinstance(period, dict):
        return True
    start, end = period.get("start"), period.get("end")
    if isinstance(start, str) and start[:10] > today.isoformat():
        return False
    if isinstance(end, str) and end[:10] < today.isoformat():
        return False
    return True


def codes(concepts: Any) -> set[tuple[str, str]]:
    """(system, code) of CodeableConcepts, Codings or a list of either."""
    out: set[tuple[str, str]] = set()
    items = concepts if isinstance(concepts, list) else [concepts]
    for item in items:
        if not isinstance(item, dict):
            continue
        for coding in item.get("coding") or [item]:
            if isinstance(coding, dict) and coding.get("code"):
                out.add((coding.get("system") or "", coding["code"]))
    return out


def security_codes(resource: dict[str, Any]) -> set[str]:
    """Codes of the resource's meta.security labels (any system)."""
    meta = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
    return {c.get("code") for c in meta.get("security") or [] if isinstance(c, dict) and c.get("code")}
