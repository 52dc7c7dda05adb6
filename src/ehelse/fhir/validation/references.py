"""Reference.reference: is it well formed, and does it point at an allowed type?

http://hl7.org/fhir/R4/references.html#literal: a literal reference is a relative URL
`Type/id` (optionally `/_history/vid`), an absolute URL (RESTful ones end in `Type/id`), a
`urn:uuid:` or `urn:oid:` (inside Bundles, bundle.html#references), or `#id` for a contained
resource (references.html#contained). A conditional reference `Type?search` is allowed in
transactions (http.html#trules), so it passes here and the transaction resolves it.
"""

from __future__ import annotations

import re

from ehelse.fhir.validation.primitives import KNOWN_LENGTH, KNOWN_LIMIT, REGEX, register_known

_ID = r"[A-Za-z0-9\-\.]{1,64}"
_RELATIVE = re.compile(r"([A-Z][A-Za-z]+)/(" + _ID + r")(/_history/" + _ID + r")?").fullmatch
_ABSOLUTE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s/]+(/\S*)?").fullmatch
_REST_TAIL = re.compile(r".*/([A-Z][A-Za-z]+)/(" + _ID + r")(/_history/" + _ID + r")?").fullmatch
_UUID = re.compile(REGEX["uuid"]).fullmatch
_OID = re.compile(REGEX["oid"]).fullmatch
_CONDITIONAL = re.compile(r"([A-Z][A-Za-z]+)\?\S+").fullmatch
_LOCAL = re.compile(r"#(" + _ID + r")?").fullmatch


# Well-formed references already parsed: reference -> (target type, local id). A write refers
# to the same patient and encounter again and again; a dict lookup is far cheaper than the
# regexes. Bounded and emptied with primitives' known-valid values (clear_known); one set
# of resource types (the R4 model's) is assumed, and checked.
_KNOWN: dict[str, tuple[str | None, str | None]] = {}
_KNOWN_TYPES: list = [None]
register_known(_KNOWN)


def parse(reference: str, resource_types: frozenset[str]) -> tuple[str | None, str | None, str | None]:
    """(error message or None, the target type when the reference names it, local id for `#id`)."""
    known = _KNOWN.get(reference)
    if known is not None and _KNOWN_TYPES[0] is resource_types:
        return None, known[0], known[1]
    message, target, local_id = _parse(reference, resource_types)
    if message is None and len(reference) <= KNOWN_LENGTH:
        if _KNOWN_TYPES[0] is not resource_types or len(_KNOWN) >= KNOWN_LIMIT:
            _KNOWN.clear()
            _KNOWN_TYPES[0] = resource_types
        _KNOWN[reference] = (target, local_id)
    return message, target, local_id


def _parse(reference: str, resource_types: frozenset[str]) -> tuple[str | None, str | None, str | None]:
    if reference.startswith("#"):
        if _LOCAL(reference) is None:
            return f"{reference!r} is not a valid contained reference: expected #id", None, None
        return None, None, reference[1:]
    if reference.startswith("urn:"):
        if reference.startswith("urn:uuid:"):
            if _UUID(reference) is None:
                return f"{reference!r} is not a valid urn:uuid: expected a lower-case UUID", None, None
            return None, None, None
        if reference.startswith("urn:oid:"):
            if _OID(reference) is None:
                return f"{reference!r} is not a valid urn:oid", None, None
            return None, None, None
        return f"{reference!r}: only urn:uuid: and urn:oid: URNs can be references", None, None
    match = _RELATIVE(reference)
    if match is not None:
        type_ = match.group(1)
        if type_ not in resource_types:
            return f"{reference!r}: {type_} is not a resource type", None, None
        return None, type_, None
    if "://" in reference:
        if _ABSOLUTE(reference) is None:
            return f"{reference!r} is not a valid absolute URL", None, None
        rest = _REST_TAIL(reference)
        if rest is not None and rest.group(1) in resource_types:
            return None, rest.group(1), None
        return None, None, None
    match = _CONDITIONAL(reference)
    if match is not None and match.group(1) in resource_types:
        return None, match.group(1), None
    return (f"{reference!r} is not a valid reference: expected Type/id, an absolute URL, "
            "urn:uuid:, urn:oid: or #id", None, None)
