"""FhirRequest and FhirResponse: the FHIR core's own view of an interaction, free of HTTP.

The ASGI layer (ehelse.web), the CLI, the portals and the tests all build a FhirRequest and
call `ehelse.fhir.router.handle(request, repo)`; batch/transaction entries are FhirRequests
too (http://hl7.org/fhir/R4/http.html#transaction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ehelse.fhir import jsoncodec


@dataclass(slots=True)
class FhirRequest:
    method: str  # GET POST PUT PATCH DELETE HEAD
    path: str  # relative to the FHIR base, without leading slash: "Patient/1/_history/2", "" for the base
    query: list[tuple[str, str]] = field(default_factory=list)  # decoded, in order, repeats kept
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    base_url: str = "http://localhost/fhir"  # absolute, no trailing slash; for Location and links
    actor: Any = None  # ehelse.access.Actor of the caller (from the token)
    request_id: str = ""
    in_bundle: bool = False  # set for batch/transaction entries

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def param(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None


@dataclass(slots=True)
class FhirResponse:
    status: int = 200
    # A parsed resource (serialised on the way out) or ready JSON bytes (served as they are,
    # the fast path for read), or None for no body.
    resource: dict[str, Any] | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # For metrics and logs: the FHIR interaction (read, vread, search-type, create, ...).
    interaction: str = ""

    def json_bytes(self, pretty: bool = False) -> bytes | None:
        if self.body is not None and not pretty:
            return self.body
        if self.resource is not None:
            return jsoncodec.dumps(self.resource, pretty=pretty)
        if self.body is not None:
            return jsoncodec.dumps(jsoncodec.loads(self.body, max_depth=10_000), pretty=True)
        return None

    def parsed(self) -> dict[str, Any] | None:
        """The body as a parsed resource (for bundles and tests)."""
        if self.resource is not None:
            return self.resource
        if self.body is not None:
            return jsoncodec.loads(self.body, max_depth=10_000)
        return None
