"""The Repository protocol: what every storage backend does, and nothing about HTTP.

Versioned storage per http://hl7.org/fhir/R4/http.html: every write makes a new version
(`meta.versionId` "1", "2", ...; `meta.lastUpdated` an instant in UTC); a delete makes a
version with no content (a tombstone), so vread of older versions and history keep working
and read gives 410. The current version and the full history are kept; a write, its history
row and its index rows happen in one database transaction.

Backends: storage/sqlite (embedded default), storage/postgres (production), storage/memory
(an in-memory fake for unit tests only). tests/storage runs one suite against all of them.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class ResourceVersion:
    """One stored version of one resource."""

    type: str
    id: str
    version_id: int
    last_updated: str  # FHIR instant in UTC with microseconds, e.g. 2026-11-27T05:27:10.123456Z
    method: str  # the interaction that made it: POST | PUT | PATCH | DELETE (Bundle.entry.request.method)
    content: bytes | None  # the resource as compact JSON, with id and meta; None for a deletion

    @property
    def deleted(self) -> bool:
        return self.content is None


@dataclass(frozen=True, slots=True)
class SearchParam:
    """One parsed search parameter: `name[:modifier]=value[,value...]` (OR within, AND across)."""

    name: str
    modifier: str | None
    values: tuple[str, ...]
    # Internal callers only (never set from a URL): start the query from this parameter's
    # index rows (True) or check it per candidate row (False); None lets search/compile.py
    # `drives()` decide. access/care.py drives from `status` when the active rows are few.
    drive: bool | None = None


@dataclass(slots=True)
class SearchQuery:
    """What storage needs to run a search. Issue 5 (search) extends this model."""

    params: list[SearchParam] = field(default_factory=list)
    count: int = 50
    offset: int = 0
    total: str = "accurate"  # none | estimate | accurate
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (param name, descending)
    # Issue 5 (search/execute.py): _include/_revinclude (search.include.IncludeSpec), the
    # compartment of a compartment search, _type of a system search, and the stable-paging
    # bounds of a page token (search.html#paging: see fhir/paging.py).
    include: list[Any] = field(default_factory=list)
    compartment: tuple[str, str] | None = None  # (compartment type, id): /Patient/123/Observation
    types: list[str] = field(default_factory=list)
    snapshot: str | None = None  # only resources with lastUpdated <= snapshot
    after: tuple[str, str, str] | None = None  # keyset: (last_updated, type, id) of the last row before
    # The caller's access rule (access/repository.py): access(type | None, alias) -> (SQL over
    # `resource <alias>`, args) or None. search/execute.py applies it to the matches and to
    # every chain and _has link, so what the actor may not see is never selected nor counted.
    access: Any = None


@dataclass(slots=True)
class Page:
    """A page of versions from a search or a history, with the total when asked for."""

    entries: list[ResourceVersion]
    total: int | None = None
    included: list[ResourceVersion] = field(default_factory=list)  # _include/_revinclude


@runtime_checkable
class Repository(Protocol):
    """Versioned FHIR resource storage. All methods are synchronous and thread-safe per
    instance; a backend hands out connections as it needs (SQLite: one writer, many readers).
    """

    url: str

    # -- reads ---------------------------------------------------------------------------
    def read(self, type: str, id: str) -> ResourceVersion | None:
        """The current version (possibly a deletion), or None if it never existed."""

    def vread(self, type: str, id: str, version_id: int) -> ResourceVersion | None:
        """That version, or None."""

    def history(self, type: str | None = None, id: str | None = None, *, since: str | None = None,
                at: str | None = None, count: int = 50, offset: int = 0) -> Page:
        """Versions newest first (system, type or instance level). `since`: versions with
        lastUpdated >= since. `at`: for each resource, the version current at that instant.
        Page.total is the number of versions matching."""

    def search(self, type: str | None, query: SearchQuery) -> Page:
        """Current, not deleted versions matching the query. Raises errors.BadRequest for a
        parameter the backend cannot evaluate (the router decides strict vs lenient first)."""

    def supported_search_params(self, type: str) -> dict[str, str]:
        """Search parameters this backend evaluates for the type: name -> FHIR search type."""

    # -- writes --------------------------------------------------------------------------
    def create(self, resource: dict[str, Any], *, id: str | None = None) -> ResourceVersion:
        """Store a new resource (version 1). The repository sets `id` (a new one when None),
        `meta.versionId` and `meta.lastUpdated`, keeping the rest of `meta`. Raises
        errors.Conflict if type/id exists already."""

    def update(self, resource: dict[str, Any], *, if_match: int | None = None,
               method: str = "PUT") -> tuple[ResourceVersion, bool]:
        """Store a new version of resource['id'] (update-as-create when it does not exist or
        was deleted). With if_match, raises errors.PreconditionFailed unless the current
        version is exactly that one (no update is ever lost). Returns (version, created)."""

    def delete(self, type: str, id: str, *, if_match: int | None = None) -> ResourceVersion | None:
        """Record a deletion version. None if there was nothing (never existed or already
        deleted): the router answers 200/204 either way, as http.html#delete allows."""

    def transaction(self) -> AbstractContextManager[None]:
        """All writes inside the block commit together or not at all. Nested blocks join the
        outer one. Reads inside see the block's own writes."""

    # -- the deployment's own records ----------------------------------------------------------
    def signing_keys(self) -> list[dict[str, Any]]:
        """Token signing keys as private JWKs (each with 'kid'), newest first."""

    def add_signing_key(self, jwk: dict[str, Any]) -> None:
        """Store a new signing key; it becomes the newest."""

    # -- operations ------------------------------------------------------------------------
    def ping(self) -> None:
        """Raise if the database cannot be reached."""

    def migrations_current(self) -> bool:
        """True when the schema is at the version this code expects."""

    def iter_current(self, type: str | None = None, *, after: str = "") -> Iterator[ResourceVersion]:
        """Every current, not deleted resource (of a type), in a stable order (type, id),
        streamed; with `type` and `after`, those whose id sorts after it."""

    def types_present(self) -> list[str]:
        """Resource types with at least one current resource."""

    def close(self) -> None:
        ...
