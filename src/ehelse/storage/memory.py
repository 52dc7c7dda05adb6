"""An in-memory Repository: a fake for unit tests only (never served to users).

It is the plainest reading of storage/protocol.py, and passes the same repository test
suite as the real backends.
"""

from __future__ import annotations

import copy
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from ehelse.errors import BadRequest, Conflict, PreconditionFailed
from ehelse.fhir import jsoncodec
from ehelse.storage.protocol import Page, ResourceVersion, SearchQuery
from ehelse.storage.stamp import new_id, now_instant, stamp

_SUPPORTED = {"_id": "token", "_lastUpdated": "date", "identifier": "token"}


class MemoryRepository:
    url = "memory://"

    def __init__(self) -> None:
        self._versions: dict[tuple[str, str], list[ResourceVersion]] = {}
        self._log: list[ResourceVersion] = []  # every version in write order
        self._keys: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self._depth = 0
        self._snapshot: Any = None

    # -- reads ---------------------------------------------------------------------------
    def read(self, type: str, id: str) -> ResourceVersion | None:
        versions = self._versions.get((type, id))
        return versions[-1] if versions else None

    def vread(self, type: str, id: str, version_id: int) -> ResourceVersion | None:
        versions = self._versions.get((type, id)) or []
        if 1 <= version_id <= len(versions):
            return versions[version_id - 1]
        return None

    def history(self, type=None, id=None, *, since=None, at=None, count=50, offset=0) -> Page:
        rows = [v for v in self._log if (type is None or v.type == type) and (id is None or v.id == id)]
        if since:
            rows = [v for v in rows if v.last_updated >= since]
        if at:
            current: dict[tuple[str, str], ResourceVersion] = {}
            for v in rows:
                if v.last_updated <= at:
                    current[(v.type, v.id)] = v
            rows = list(current.values())
        rows.sort(key=lambda v: (v.last_updated, v.version_id), reverse=True)
        return Page(rows[offset:offset + count], len(rows))

    def supported_search_params(self, type: str) -> dict[str, str]:
        from ehelse.search.compile import supported

        return supported(type)

    def search(self, type: str | None, query: SearchQuery) -> Page:
        hits = []
        for (t, _), versions in self._versions.items():
            current = versions[-1]
            if (type is None or t == type) and not current.deleted:
                hits.append(current)
        if query.params:
            hits = self._matching(type, hits, query)
        hits.sort(key=lambda v: (v.last_updated, v.id))
        total = len(hits) if query.total != "none" else None
        return Page(hits[query.offset:query.offset + query.count], total)

    def _matching(self, type: str | None, hits: list[ResourceVersion], query: SearchQuery) -> list[ResourceVersion]:
        """Type-level search through search/reference.py's brute-force evaluator (the same
        reading of the spec the SQL backends are tested against); system search keeps the
        small subset below."""
        if type is None:
            return [v for v in hits if self._matches(v, query)]
        from ehelse.search.compile import condition_for
        from ehelse.search.reference import ReferenceEvaluator

        for param in query.params:  # the same 400s as the SQL backends for bad input
            if not param.name.startswith("_has:") and "." not in param.name and param.name != "_list":
                condition_for(type, param)
        evaluator = ReferenceEvaluator(jsoncodec.loads(v.content, max_depth=10_000) for v in hits)
        try:
            ids = evaluator.search(type, list(query.params))
        except (NotImplementedError, KeyError) as exc:
            raise BadRequest(f"The in-memory repository cannot evaluate this search: {exc}",
                             code="not-supported") from None
        return [v for v in hits if v.id in ids]

    def _matches(self, version: ResourceVersion, query: SearchQuery) -> bool:
        resource = jsoncodec.loads(version.content, max_depth=10_000)
        for param in query.params:
            if param.name not in _SUPPORTED:
                raise BadRequest(f"Unknown search parameter {param.name!r}", code="not-supported")
            if not any(self._match_one(resource, version, param.name, value) for value in param.values):
                return False
        return True

    @staticmethod
    def _match_one(resource: dict, version: ResourceVersion, name: str, value: str) -> bool:
        if name == "_id":
            return version.id == value
        if name == "_lastUpdated":
            prefix, instant = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
            stamp_ = version.last_updated
            return {"eq": stamp_.startswith(instant), "gt": stamp_ > instant, "ge": stamp_ >= instant,
                    "lt": stamp_ < instant, "le": stamp_ <= instant}.get(prefix, False)
        system, _, code = value.rpartition("|") if "|" in value else (None, "", value)
        for identifier in resource.get("identifier") or []:
            if code and identifier.get("value") != code:
                continue
            if system is not None and (identifier.get("system") or "") != system:
                continue
            return True
        return False

    # -- writes --------------------------------------------------------------------------
    def _append(self, type: str, id: str, method: str, resource: dict | None) -> ResourceVersion:
        versions = self._versions.setdefault((type, id), [])
        version_id = len(versions) + 1
        last_updated = now_instant()
        content = stamp(resource, id, version_id, last_updated) if resource is not None else None
        version = ResourceVersion(type, id, version_id, last_updated, method, content)
        versions.append(version)
        self._log.append(version)
        return version

    def create(self, resource: dict[str, Any], *, id: str | None = None) -> ResourceVersion:
        with self._lock:
            type = resource["resourceType"]
            id = id or new_id()
            if (type, id) in self._versions:
                raise Conflict(f"{type}/{id} exists already")
            return self._append(type, id, "POST", resource)

    def update(self, resource, *, if_match=None, method="PUT"):
        with self._lock:
            type, id = resource["resourceType"], resource["id"]
            current = self.read(type, id)
            if if_match is not None and (current is None or current.deleted or current.version_id != if_match):
                have = "none" if current is None or current.deleted else current.version_id
                raise PreconditionFailed(f"{type}/{id}: If-Match expects version {if_match}, current is {have}")
            created = current is None or current.deleted
            return self._append(type, id, method, resource), created

    def delete(self, type, id, *, if_match=None):
        with self._lock:
            current = self.read(type, id)
            if if_match is not None and (current is None or current.deleted or current.version_id != if_match):
                raise PreconditionFailed(f"{type}/{id}: If-Match does not match the current version")
            if current is None or current.deleted:
                return None
            return self._append(type, id, "DELETE", None)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._snapshot = ({k: list(v) for k, v in self._versions.items()}, list(self._log))
            self._depth += 1
            try:
                yield
            except BaseException:
                if self._depth == 1:
                    self._versions, self._log = self._snapshot
                raise
            finally:
                self._depth -= 1

    # -- the deployment's own records ----------------------------------------------------
    def signing_keys(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(k) for k in reversed(self._keys)]

    def add_signing_key(self, jwk: dict[str, Any]) -> None:
        self._keys.append(copy.deepcopy(jwk))

    # -- operations ------------------------------------------------------------------------
    def ping(self) -> None:
        return None

    def migrations_current(self) -> bool:
        return True

    def iter_current(self, type: str | None = None, *, after: str = "") -> Iterator[ResourceVersion]:
        for (t, id) in sorted(self._versions):
            current = self._versions[(t, id)][-1]
            if (type is None or t == type and id > after) and not current.deleted:
                yield current

    def types_present(self) -> list[str]:
        return sorted({t for (t, _), v in self._versions.items() if not v[-1].deleted})

    def close(self) -> None:
        return None
