"""A tiny in-process client for the router tests: builds FhirRequests, returns FhirResponses."""

from __future__ import annotations

from typing import Any

from ehelse.fhir import jsoncodec
from ehelse.fhir.request import FhirRequest, FhirResponse
from ehelse.fhir.router import Router
from ehelse.settings import Settings

BASE = "http://test/fhir"


class RouterClient:
    def __init__(self, repo: Any, **settings: Any):
        settings.setdefault("validate", False)  # the validator is tested on its own; opt in per test
        self.settings = Settings.from_env({}, **settings)
        self.router = Router(self.settings)
        self.repo = repo

    def request(self, method: str, path: str, body: Any = None, *, query: list[tuple[str, str]] | None = None,
                headers: dict[str, str] | None = None) -> FhirResponse:
        if body is None:
            raw = b""
        elif isinstance(body, (bytes, bytearray)):
            raw = bytes(body)
        else:
            raw = jsoncodec.dumps(body)
        request = FhirRequest(method, path, list(query or []), {k.lower(): v for k, v in (headers or {}).items()},
                              raw, BASE)
        return self.router.handle(request, self.repo)

    def get(self, path: str, **kw: Any) -> FhirResponse:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> FhirResponse:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> FhirResponse:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: Any, **kw: Any) -> FhirResponse:
        kw.setdefault("headers", {"content-type": "application/json-patch+json"})
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> FhirResponse:
        return self.request("DELETE", path, **kw)

    def create(self, resource: dict[str, Any]) -> dict[str, Any]:
        response = self.post(resource["resourceType"], resource)
        assert response.status == 201, response.parsed()
        return response.parsed()


def outcome_of(response: FhirResponse) -> dict[str, Any]:
    """The OperationOutcome of an error response (and a check that it is one)."""
    body = response.parsed()
    assert body is not None and body["resourceType"] == "OperationOutcome", body
    assert body["issue"] and all(i["severity"] and i["code"] for i in body["issue"])
    return body


def patient(family: str = "Nordmann", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"family": family, "given": ["Kari"]}], **extra}
