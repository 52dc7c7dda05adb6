"""SMART on FHIR scopes: what a token's `scope` claim lets a client do, per resource type.

SMART App Launch 2.0 (http://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html):
`<context>/<type>.<permissions>`, context `patient`, `user` or `system`, type a resource
type or `*`, permissions a subset of `cruds` in that order (create, read, update, delete,
search). The v1 forms stay accepted: `.read` = `rs`, `.write` = `cud`, `.*` = `cruds`.
Query parameters on a v2 scope (`patient/Observation.rs?category=...`) narrow it further;
we do not evaluate them, so such a scope grants nothing rather than too much.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

CONTEXTS = ("patient", "user", "system")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
# The router's interactions as SMART permission letters.
INTERACTION_PERMISSION = {
    "create": "c", "read": "r", "vread": "r", "history": "r", "update": "u", "patch": "u",
    "delete": "d", "search": "s", "operation": "r",
}


@dataclass(frozen=True, slots=True)
class Scope:
    context: str  # patient | user | system
    type: str  # a resource type or "*"
    permissions: frozenset[str]  # letters of "cruds"


def parse_scope(text: str) -> Scope | None:
    """One clinical scope, or None for anything else (openid, launch, offline_access, ...).
    The authorisation server's parser (ehelse.oauth.scopes) decides when it is installed,
    so what it grants and what is enforced here never disagree."""
    try:
        from ehelse.oauth.scopes import ResourceScope, ScopeError, parse
    except ImportError:
        return _parse_own(text)
    try:
        parsed = parse(text)
    except ScopeError:
        return None
    if not isinstance(parsed, ResourceScope) or parsed.query:
        return None
    return Scope(parsed.context, parsed.resource, frozenset(parsed.permissions))


def _parse_own(text: str) -> Scope | None:
    context, slash, rest = text.partition("/")
    if not slash or context not in CONTEXTS or "." not in rest:
        return None
    type, _, permissions = rest.partition(".")
    if "?" in permissions:  # a v2 scope with a query: narrower than we can check
        return None
    letters = _V1.get(permissions, permissions)
    if not letters or any(c not in "cruds" for c in letters) or "".join(sorted(letters, key="cruds".index)) != letters:
        return None  # v2 requires the letters in order, each once
    if not type or not (type == "*" or type[:1].isupper()):
        return None
    return Scope(context, type, frozenset(letters))


class Scopes:
    """A token's scopes, ready for `allows(type, interaction)`. Immutable once made, so
    `Scopes.of(texts)` shares one per distinct scope string set (parsed once, not per request)."""

    def __init__(self, texts: tuple[str, ...] | list[str]):
        self.scopes = tuple(s for s in (parse_scope(t) for t in texts) if s is not None)

    @staticmethod
    @lru_cache(maxsize=1024)
    def of(texts: tuple[str, ...]) -> "Scopes":
        return Scopes(texts)

    def allows(self, type: str, interaction: str, *, contexts: tuple[str, ...] = CONTEXTS) -> bool:
        letter = INTERACTION_PERMISSION.get(interaction)
        if letter is None:
            return False
        return any(s.context in contexts and s.type in ("*", type) and letter in s.permissions for s in self.scopes)

    def readable_types(self, contexts: tuple[str, ...] = CONTEXTS) -> set[str] | None:
        """Types the scopes let one search (`s`); None means every type (`*`)."""
        types: set[str] = set()
        for s in self.scopes:
            if s.context in contexts and "s" in s.permissions:
                if s.type == "*":
                    return None
                types.add(s.type)
        return types
