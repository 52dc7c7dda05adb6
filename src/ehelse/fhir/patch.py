"""JSON Patch (RFC 6902) applied to a parsed resource, for the FHIR patch interaction.

http://hl7.org/fhir/R4/http.html#patch: PATCH [base]/[type]/[id] with
`Content-Type: application/json-patch+json`. A malformed patch document is a 400; a patch
that cannot be applied to this resource (a path that does not exist, a failed `test`) is a
422 Unprocessable Entity, as RFC 5789 §2.2 describes; the resource is then left unchanged.
A patch may not change `resourceType` or `id` (the identity of what is patched).
"""

from __future__ import annotations

import copy
from decimal import Decimal, InvalidOperation
from typing import Any

from ehelse.errors import BadRequest, UnprocessableEntity
from ehelse.fhir.jsoncodec import Number

_OPS = {"add": ("value",), "remove": (), "replace": ("value",), "move": ("from",),
        "copy": ("from",), "test": ("value",)}


def apply_json_patch(resource: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply `patch` to a copy of `resource` and return it. Raises BadRequest / UnprocessableEntity."""
    if not isinstance(patch, list):
        raise BadRequest("A JSON Patch document is an array of operations", code="structure")
    operations = [_checked(index, op) for index, op in enumerate(patch)]
    document = copy.deepcopy(resource)
    for index, op in enumerate(operations):
        document = _apply(document, op, index)
    if not isinstance(document, dict):
        raise UnprocessableEntity("The patch replaced the whole resource with a non-object", code="processing")
    for key in ("resourceType", "id"):
        if document.get(key) != resource.get(key):
            raise UnprocessableEntity(f"A patch may not change {key}", code="processing",
                                      expression=key)
    return document


def _checked(index: int, op: Any) -> dict[str, Any]:
    where = f"patch[{index}]"
    if not isinstance(op, dict) or not isinstance(op.get("op"), str):
        raise BadRequest(f"{where}: each operation is an object with an 'op'", code="structure")
    if op["op"] not in _OPS:
        raise BadRequest(f"{where}: unknown op {op['op']!r} (RFC 6902 has {', '.join(_OPS)})", code="value")
    if not isinstance(op.get("path"), str):
        raise BadRequest(f"{where}: 'path' is required and must be a string", code="required")
    for member in _OPS[op["op"]]:
        if member not in op:
            raise BadRequest(f"{where}: '{member}' is required for {op['op']}", code="required")
    if "from" in _OPS[op["op"]] and not isinstance(op["from"], str):
        raise BadRequest(f"{where}: 'from' must be a string", code="value")
    return op


def _pointer(text: str, where: str) -> list[str]:
    """RFC 6901 JSON Pointer -> reference tokens."""
    if text == "":
        return []
    if not text.startswith("/"):
        raise BadRequest(f"{where}: path {text!r} must start with '/'", code="value")
    return [token.replace("~1", "/").replace("~0", "~") for token in text[1:].split("/")]


def _index(container: list, token: str, where: str, *, for_add: bool = False) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise UnprocessableEntity(f"{where}: {token!r} is not an array index")
    index = int(token)
    if index > len(container) or (index == len(container) and not for_add):
        raise UnprocessableEntity(f"{where}: index {index} is out of range")
    return index


def _parent(document: Any, tokens: list[str], where: str) -> Any:
    node = document
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise UnprocessableEntity(f"{where}: path does not exist (no {token!r})")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, where)]
        else:
            raise UnprocessableEntity(f"{where}: path goes through a primitive value")
    return node


def _get(document: Any, tokens: list[str], where: str) -> Any:
    if not tokens:
        return document
    parent = _parent(document, tokens, where)
    token = tokens[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise UnprocessableEntity(f"{where}: path does not exist (no {token!r})")
        return parent[token]
    if isinstance(parent, list):
        return parent[_index(parent, token, where)]
    raise UnprocessableEntity(f"{where}: path goes through a primitive value")


def _add(document: Any, tokens: list[str], value: Any, where: str) -> Any:
    if not tokens:
        return value
    parent = _parent(document, tokens, where)
    token = tokens[-1]
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, token, where, for_add=True), value)
    else:
        raise UnprocessableEntity(f"{where}: cannot add inside a primitive value")
    return document


def _remove(document: Any, tokens: list[str], where: str) -> Any:
    if not tokens:
        raise UnprocessableEntity(f"{where}: cannot remove the whole resource")
    parent = _parent(document, tokens, where)
    token = tokens[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise UnprocessableEntity(f"{where}: path does not exist (no {token!r})")
        return parent.pop(token)
    if isinstance(parent, list):
        return parent.pop(_index(parent, token, where))
    raise UnprocessableEntity(f"{where}: path goes through a primitive value")


def _apply(document: Any, op: dict[str, Any], index: int) -> Any:
    where = f"patch[{index}] ({op['op']} {op['path']})"
    tokens = _pointer(op["path"], where)
    name = op["op"]
    if name == "add":
        return _add(document, tokens, copy.deepcopy(op["value"]), where)
    if name == "remove":
        _remove(document, tokens, where)
        return document
    if name == "replace":
        _get(document, tokens, where)  # the target must exist (RFC 6902 §4.3)
        if not tokens:
            return copy.deepcopy(op["value"])
        _remove(document, tokens, where)
        return _add(document, tokens, copy.deepcopy(op["value"]), where)
    if name == "test":  # RFC 6902 §4.6
        if not json_equal(_get(document, tokens, where), op["value"]):
            raise UnprocessableEntity(f"{where}: test failed, the value differs", code="processing")
        return document
    source = _pointer(op["from"], where)
    if name == "move":
        if op["path"].startswith(op["from"] + "/"):
            raise UnprocessableEntity(f"{where}: cannot move a value into one of its own children")
        value = _remove(document, source, where)
        return _add(document, tokens, value, where)
    return _add(document, tokens, copy.deepcopy(_get(document, source, where)), where)  # copy


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(value.text if isinstance(value, Number) else repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        return None


def json_equal(a: Any, b: Any) -> bool:
    """RFC 6902 §4.6 equality: numbers by value (`1.50` equals `1.5`), objects ignore order,
    arrays do not; booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float, Number)) and isinstance(b, (int, float, Number)):
        return _decimal(a) == _decimal(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b
