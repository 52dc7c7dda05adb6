"""The registry of $operations (http://hl7.org/fhir/R4/operations.html), one module per operation.

An operation is registered with the levels it runs at (system, type, instance) and a handler
`handler(ctx, type, id, parameters) -> FhirResponse`, where `parameters` is the parsed body
(a Parameters or a resource) or None, and the URL parameters are on ctx.request.query.
Handlers are imported lazily: a module loads when its operation is first called.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from ehelse.errors import MethodNotAllowed, NotFound, NotImplementedFhir
from ehelse.fhir.request import FhirResponse


@dataclass(frozen=True, slots=True)
class Operation:
    name: str  # without the $
    levels: frozenset[str]  # system | type | instance
    target: str  # "module:function" of the handler
    definition: str  # canonical URL of the OperationDefinition, for the CapabilityStatement
    affects_state: bool = False  # GET is allowed only when False (operations.html#executing)
    types: frozenset[str] | None = None  # resource types it is defined on; None: all

    def defined_on(self, type: str | None) -> bool:
        return self.types is None or type is None or type in self.types

    def handler(self) -> Callable[..., FhirResponse]:
        module, _, function = self.target.partition(":")
        try:
            return getattr(importlib.import_module(module), function)
        except (ImportError, AttributeError):
            raise NotImplementedFhir(f"${self.name} is not available in this build") from None


OPERATIONS: dict[str, Operation] = {}


def register(operation: Operation) -> None:
    OPERATIONS[operation.name] = operation


def lookup(name: str, level: str, method: str, type: str | None = None) -> Operation:
    operation = OPERATIONS.get(name)
    if operation is None:
        raise NotFound(f"Unknown operation ${name}", code="not-supported")
    if level not in operation.levels or not operation.defined_on(type):
        raise NotFound(f"${name} is not defined at {level} level", code="not-supported")
    if method not in ("GET", "POST") or (method == "GET" and operation.affects_state):
        raise MethodNotAllowed(f"${name} does not accept {method}")
    return operation


def defines_type(name: str) -> bool:
    """True when an operation is defined on `name` though it is no R4 resource type."""
    return any(op.types is not None and name in op.types for op in OPERATIONS.values())


def invoke(operation: Operation, ctx: Any, type: str | None, id: str | None, parameters: Any) -> FhirResponse:
    return operation.handler()(ctx, type, id, parameters)


register(Operation("validate", frozenset({"type", "instance"}), "ehelse.fhir.operations.validate_adapter:run",
                   "http://hl7.org/fhir/OperationDefinition/Resource-validate"))

_TERMINOLOGY = "ehelse.fhir.operations.terminology_adapter"
_BOTH = frozenset({"type", "instance"})
register(Operation("lookup", _BOTH, f"{_TERMINOLOGY}:lookup",
                   "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup",
                   types=frozenset({"CodeSystem"})))
register(Operation("validate-code", _BOTH, f"{_TERMINOLOGY}:validate_code",
                   "http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code",
                   types=frozenset({"CodeSystem", "ValueSet"})))
register(Operation("subsumes", _BOTH, f"{_TERMINOLOGY}:subsumes",
                   "http://hl7.org/fhir/OperationDefinition/CodeSystem-subsumes",
                   types=frozenset({"CodeSystem"})))
register(Operation("expand", _BOTH, f"{_TERMINOLOGY}:expand",
                   "http://hl7.org/fhir/OperationDefinition/ValueSet-expand",
                   types=frozenset({"ValueSet"})))
register(Operation("translate", _BOTH, f"{_TERMINOLOGY}:translate",
                   "http://hl7.org/fhir/OperationDefinition/ConceptMap-translate",
                   types=frozenset({"ConceptMap"})))
register(Operation("everything", frozenset({"type", "instance"}), "ehelse.fhir.operations.everything:everything",
                   "http://hl7.org/fhir/OperationDefinition/Patient-everything", types=frozenset({"Patient"})))
# SQL on FHIR v2 (issue 9): R4 mode is system level; ViewDefinition/$run as the issue asks.
_VIEW_RUN = "ehelse.fhir.operations.viewdefinition:run"
register(Operation("viewdefinition-run", frozenset({"system", "type", "instance"}), _VIEW_RUN,
                   "http://sql-on-fhir.org/OperationDefinition/$viewdefinition-run"))
register(Operation("run", frozenset({"type", "instance"}), _VIEW_RUN,
                   "http://sql-on-fhir.org/OperationDefinition/$run", types=frozenset({"ViewDefinition"})))
register(Operation("viewdefinition-export", frozenset({"system", "type", "instance"}),
                   "ehelse.analytics.view_export:kickoff",
                   "http://sql-on-fhir.org/OperationDefinition/$viewdefinition-export"))
# FHIR Bulk Data Access v2 (issue 9): system, Patient (type) and Group (instance) level.
register(Operation("export", frozenset({"system", "type", "instance"}), "ehelse.bulk.kickoff:export",
                   "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                   types=frozenset({"Patient", "Group"})))
