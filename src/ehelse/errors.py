"""The errors of ehelse, and how each becomes an OperationOutcome.

    FhirError (status 500, code exception)          -- base; carries a list of Issue
    ├── BadRequest (400, invalid/structure/...)     -- malformed JSON, bad parameter values
    │   └── ValidationFailed (422 on write, see http.html#2.21.0.17.1) -- content invalid
    ├── Unauthorized (401, login)                   -- missing, expired or forged token
    ├── Forbidden (403, forbidden)                  -- authenticated, not allowed
    ├── NotFound (404, not-found)                   -- no such type/id/version
    ├── MethodNotAllowed (405, not-supported)
    ├── NotAcceptable (406, not-supported)          -- Accept asks for a format we do not serve
    ├── Conflict (409, conflict)                    -- e.g. id in use with another type
    ├── Gone (410, deleted)                         -- read of a deleted resource
    ├── PreconditionFailed (412, conflict)          -- If-Match on a stale version; conditional ambiguity
    ├── PayloadTooLarge (413, too-costly)
    ├── UnsupportedMediaType (415, not-supported)
    ├── TooManyRequests (429, throttled)            -- rate limit of login and token endpoints
    ├── UnprocessableEntity (422, processing)       -- business rules (id mismatch, bad references)
    ├── NotImplementedFhir (501, not-supported)
    └── ServiceUnavailable (503, transient)         -- the audit trail cannot commit (no data without it);
                                                       the database is busy or down (storage/unavailable.py)

OperationOutcome: http://hl7.org/fhir/R4/operationoutcome.html. Each Issue has severity, code
(http://hl7.org/fhir/R4/valueset-issue-type.html), diagnostics and, where it points at an
element, a FHIRPath `expression` (e.g. `Patient.name[0].given[1]`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Issue:
    severity: str  # fatal | error | warning | information
    code: str  # IssueType code, e.g. "invalid", "structure", "required", "value", "code-invalid"
    diagnostics: str
    expression: str | None = None
    details: dict[str, Any] | None = None  # a CodeableConcept a client can act on (e.g. access/care.py)

    def to_fhir(self) -> dict[str, Any]:
        issue: dict[str, Any] = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.details:
            issue["details"] = self.details
        if self.expression:
            issue["expression"] = [self.expression]
        return issue

    @property
    def is_error(self) -> bool:
        return self.severity in ("error", "fatal")


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    if not issues:
        issues = [Issue("information", "informational", "All OK")]
    return {"resourceType": "OperationOutcome", "issue": [i.to_fhir() for i in issues]}


class FhirError(Exception):
    status = 500
    code = "exception"

    def __init__(self, diagnostics: str = "", *, expression: str | None = None,
                 issues: list[Issue] | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(diagnostics or (issues[0].diagnostics if issues else self.__class__.__name__))
        if issues is None:
            issues = [Issue("error", code or self.code, diagnostics or self.__class__.__name__, expression)]
        self.issues = issues
        self.headers = headers or {}

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)


class BadRequest(FhirError):
    status = 400
    code = "invalid"


class ValidationFailed(BadRequest):
    """Content fails validation. http.html says 400 for bad syntax, 422 for rule violations;
    we answer 400 on parse-level structure errors and 422 for content rules (set per raise)."""

    status = 422
    code = "invalid"


class Unauthorized(FhirError):
    status = 401
    code = "login"


class Forbidden(FhirError):
    status = 403
    code = "forbidden"


class NotFound(FhirError):
    status = 404
    code = "not-found"


class MethodNotAllowed(FhirError):
    status = 405
    code = "not-supported"


class NotAcceptable(FhirError):
    status = 406
    code = "not-supported"


class Conflict(FhirError):
    status = 409
    code = "conflict"


class Gone(FhirError):
    status = 410
    code = "deleted"


class PreconditionFailed(FhirError):
    status = 412
    code = "conflict"


class PayloadTooLarge(FhirError):
    status = 413
    code = "too-costly"


class UnsupportedMediaType(FhirError):
    status = 415
    code = "not-supported"


class TooManyRequests(FhirError):
    status = 429
    code = "throttled"


class UnprocessableEntity(FhirError):
    status = 422
    code = "processing"


class NotImplementedFhir(FhirError):
    status = 501
    code = "not-supported"


class ServiceUnavailable(FhirError):
    """The server cannot answer now but may soon (http://hl7.org/fhir/R4/http.html: 503 with
    an OperationOutcome; issue type `transient`); give a Retry-After header."""

    status = 503
    code = "transient"
