"""Norwegian identifier systems: the OID form and the HL7 Norway URI form of each, both ways.

HL7 Norway publishes each national identifier as a NamingSystem with two `uniqueId`s: an OID
(the form the no-basis profiles fix in their identifier slices, e.g. `urn:oid:2.16.578.1.12.4.1.4.1`)
and a URI (`http://hl7.no/fhir/NamingSystem/FNR`). Clients send either
(http://hl7.org/fhir/R4/namingsystem.html). We store and index identifiers under one form,
`canonical_system(system)` (the `urn:oid:` form the profiles use), so that a search by either
form finds the resource: storage canonicalises on write and search canonicalises the query.

Sources: the NamingSystem resources of hl7.fhir.no.basis 2.2.3 (FNR, DNR, FHNR, HPR, DUFN,
kommunenummer, bydelsnummer) and the OID table of ../shared/DOMAIN.md (ENH, RESH, HER-id).
"""

from __future__ import annotations

from dataclasses import dataclass

OID_PREFIX = "urn:oid:"
HL7NO = "http://hl7.no/fhir/NamingSystem/"


@dataclass(frozen=True, slots=True)
class IdentifierSystem:
    """One national identifier system and every form of its system URI."""

    key: str  # short name used in code and messages: FNR, DNR, HPR, ENH, ...
    name: str  # Norwegian name
    oid: str | None  # bare OID, e.g. "2.16.578.1.12.4.1.4.1"
    uris: tuple[str, ...] = ()  # URI forms, the HL7 Norway NamingSystem one first
    person: bool = False  # identifies a person (FNR, DNR, FHN, HNR, DUF)

    @property
    def canonical(self) -> str:
        """The form we store and index: `urn:oid:...` where there is an OID."""
        return OID_PREFIX + self.oid if self.oid else self.uris[0]

    @property
    def uri(self) -> str | None:
        """The HL7 Norway URI form, or None when HL7 Norway publishes none."""
        return self.uris[0] if self.uris else None

    @property
    def forms(self) -> tuple[str, ...]:
        """Every accepted system value, canonical first."""
        rest = tuple(u for u in self.uris if u != self.canonical)
        return (self.canonical, *rest)


FNR = IdentifierSystem("FNR", "Fødselsnummer", "2.16.578.1.12.4.1.4.1", (HL7NO + "FNR",), person=True)
DNR = IdentifierSystem("DNR", "D-nummer", "2.16.578.1.12.4.1.4.2", (HL7NO + "DNR",), person=True)
# The package's NamingSystem says FHNR; DOMAIN.md and some systems write FHN: accept both.
FHN = IdentifierSystem("FHN", "Felles hjelpenummer", "2.16.578.1.12.4.1.4.3", (HL7NO + "FHNR", HL7NO + "FHN"),
                       person=True)
HPR = IdentifierSystem("HPR", "HPR-nummer", "2.16.578.1.12.4.1.4.4", (HL7NO + "HPR",))
DUF = IdentifierSystem("DUF", "DUF-nummer", "2.16.578.1.12.4.1.4.5", (HL7NO + "DUFN",), person=True)
# no-basis-Patient's HNR slice fixes system to the literal "HNR" (a local number; the
# assigner tells whose): there is no OID, so "HNR" itself is the canonical form.
HNR = IdentifierSystem("HNR", "H-nummer", None, ("HNR",), person=True)
# No NamingSystem for these in no-basis 2.2.3; the URI forms follow the HL7 Norway pattern
# and are accepted on input only (stored under the OID).
ENH = IdentifierSystem("ENH", "Organisasjonsnummer (Enhetsregisteret)", "2.16.578.1.12.4.1.4.101", (HL7NO + "ENH",))
RESH = IdentifierSystem("RESH", "RESH-id", "2.16.578.1.12.4.1.4.102", (HL7NO + "RESH", HL7NO + "RSH"))
HER = IdentifierSystem("HER", "HER-id", "2.16.578.1.12.4.1.2", (HL7NO + "HER",))
KOMMUNENUMMER = IdentifierSystem(
    "kommunenummer", "Kommunenummer", "2.16.578.1.12.4.1.1.3402",
    (HL7NO + "kommunenummer", "https://register.geonorge.no/subregister/sosi-kodelister/kartverket/kommunenummer-alle"))
BYDELSNUMMER = IdentifierSystem(
    "bydelsnummer", "Bydelsnummer", "2.16.578.1.12.4.1.1.3403",
    (HL7NO + "bydelsnummer", "http://data.ssb.no/api/klass/v1/versions/919"))

SYSTEMS: tuple[IdentifierSystem, ...] = (FNR, DNR, FHN, HPR, DUF, HNR, ENH, RESH, HER, KOMMUNENUMMER, BYDELSNUMMER)


def _index() -> dict[str, IdentifierSystem]:
    index: dict[str, IdentifierSystem] = {}
    for system in SYSTEMS:
        for form in system.forms:
            index[form] = system
            index[form.lower()] = system  # hl7.no URIs are seen in any case (…/fnr, …/Fnr)
    return index


_BY_FORM = _index()


def identifier_system(system: str | None) -> IdentifierSystem | None:
    """The national identifier system this system value names (any form), or None."""
    if not system:
        return None
    found = _BY_FORM.get(system)
    if found is None:
        found = _BY_FORM.get(system.strip().lower())
    return found


def canonical_system(system: str) -> str:
    """The form to store and search by: `urn:oid:` for a known Norwegian system (either form
    in), anything else unchanged. `canonical_system(a) == canonical_system(b)` exactly when
    a and b name the same system."""
    found = identifier_system(system)
    return found.canonical if found else system


def system_forms(system: str) -> tuple[str, ...]:
    """Every form of the same system (canonical first); just (system,) when unknown. For
    backends that match stored values as they were written rather than canonicalised."""
    found = identifier_system(system)
    return found.forms if found else (system,)


def oid_form(system: str) -> str | None:
    """The `urn:oid:` form of a known system, or None."""
    found = identifier_system(system)
    return OID_PREFIX + found.oid if found and found.oid else None


def uri_form(system: str) -> str | None:
    """The HL7 Norway URI form of a known system, or None."""
    found = identifier_system(system)
    return found.uri if found else None


def is_system(system: str | None, expected: IdentifierSystem) -> bool:
    """True when `system` is any form of `expected`."""
    return identifier_system(system) is expected
