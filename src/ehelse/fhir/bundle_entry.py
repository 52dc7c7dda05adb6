"""One entry of a batch or transaction Bundle, read and checked (http://hl7.org/fhir/R4/bundle.html#transaction).

Each entry's `request` says what to do (method and a URL relative to the base); its
`resource` is the body of a POST/PUT; a PATCH carries its JSON Patch as a Binary
(http.html#patch: "the body is a Binary with contentType application/json-patch+json").
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ehelse.errors import BadRequest, UnsupportedMediaType
from ehelse.fhir import jsoncodec
from ehelse.fhir.body import check_resource
from ehelse.fhir.headers import JSON_PATCH
from ehelse.fhir.resource_types import is_resource_type, is_valid_id
from ehelse.fhir.search_request import RESULT_PARAMS, parse_query_string

METHODS = ("DELETE", "POST", "PUT", "PATCH", "GET", "HEAD")
# http.html#trules: the order a transaction is processed in.
PROCESSING_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


@dataclass(slots=True)
class BundleEntry:
    index: int
    method: str
    url: str  # as given, for messages
    path: str  # relative to the base, e.g. "Patient/1", "Patient"
    query: list[tuple[str, str]]
    type: str | None
    id: str | None
    full_url: str | None
    resource: dict[str, Any] | None
    patch: Any = None  # the JSON Patch document of a PATCH entry
    headers: dict[str, str] = field(default_factory=dict)  # if-match, if-none-exist, ...

    @property
    def where(self) -> str:
        return f"Bundle.entry[{self.index}]"

    @property
    def criteria(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.query if k not in RESULT_PARAMS]


def _relative(url: str, base_url: str) -> str:
    if url.startswith(base_url + "/"):
        return url[len(base_url) + 1:]
    if "://" in url:
        raise BadRequest(f"Entry URL {url[:120]!r} is not on this server's base {base_url}", code="value")
    return url.lstrip("/")


def _patch_document(resource: Any, where: str) -> Any:
    if not isinstance(resource, dict) or resource.get("resourceType") != "Binary":
        raise UnsupportedMediaType("A PATCH entry carries a Binary with contentType application/json-patch+json",
                                   expression=f"{where}.resource")
    if resource.get("contentType") != JSON_PATCH:
        raise UnsupportedMediaType(f"Only {JSON_PATCH} is supported for PATCH", expression=f"{where}.resource.contentType")
    try:
        raw = base64.b64decode(resource.get("data") or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise BadRequest("Binary.data is not base64", code="value", expression=f"{where}.resource.data") from None
    return jsoncodec.loads(raw, max_depth=64)


def parse_entry(index: int, entry: Any, base_url: str) -> BundleEntry:
    where = f"Bundle.entry[{index}]"
    if not isinstance(entry, dict):
        raise BadRequest("An entry must be an object", code="structure", expression=where)
    request = entry.get("request")
    if not isinstance(request, dict):
        raise BadRequest("entry.request is required in a batch or transaction", code="required",
                         expression=f"{where}.request")
    method, url = request.get("method"), request.get("url")
    if method not in METHODS:
        raise BadRequest(f"entry.request.method must be one of {', '.join(METHODS)}", code="value",
                         expression=f"{where}.request.method")
    if not isinstance(url, str) or not url:
        raise BadRequest("entry.request.url is required", code="required", expression=f"{where}.request.url")
    split = urlsplit(_relative(url, base_url))
    path = split.path.strip("/")
    parts = path.split("/") if path else []
    type = parts[0] if parts and is_resource_type(parts[0]) else None
    id = parts[1] if type and len(parts) >= 2 and is_valid_id(parts[1]) and not parts[1].startswith("_") else None
    full_url = entry.get("fullUrl")
    if full_url is not None and not isinstance(full_url, str):
        raise BadRequest("fullUrl must be a string", code="value", expression=f"{where}.fullUrl")
    headers = {}
    for element, header in (("ifMatch", "if-match"), ("ifNoneMatch", "if-none-match"),
                            ("ifModifiedSince", "if-modified-since"), ("ifNoneExist", "if-none-exist")):
        if isinstance(request.get(element), str):
            headers[header] = request[element]
    resource, patch = entry.get("resource"), None
    if method in ("POST", "PUT", "DELETE", "PATCH"):
        if type is None:
            raise BadRequest(f"{method} {url[:120]!r}: the URL must start with a resource type", code="value",
                             expression=f"{where}.request.url")
        if method in ("PUT", "DELETE", "PATCH") and len(parts) > 2:
            raise BadRequest(f"{method} {url[:120]!r} is not a valid entry URL", code="value",
                             expression=f"{where}.request.url")
        if len(parts) == 2 and id is None:
            raise BadRequest(f"{parts[1][:80]!r} is not a valid id", code="value", expression=f"{where}.request.url")
    if method in ("POST", "PUT"):
        resource = check_resource(resource, type, f"{where}.resource")
        if method == "POST" and len(parts) != 1:
            raise BadRequest("POST entries go to a type URL", code="value", expression=f"{where}.request.url")
    elif method == "PATCH":
        patch, resource = _patch_document(resource, where), None
    else:
        resource = None
    query = parse_query_string(split.query) if split.query else []
    if method in ("PUT", "DELETE", "PATCH") and id is None and not [q for q in query if q[0] not in RESULT_PARAMS]:
        raise BadRequest(f"{method} needs an id or search criteria", code="value", expression=f"{where}.request.url")
    return BundleEntry(index, method, url, path, query, type, id, full_url, resource, patch, headers)
