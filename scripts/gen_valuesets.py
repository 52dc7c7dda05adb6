"""Generate src/ehelse/fhir/definitions/valuesets.json.gz: the value sets the validator checks codes against.

Source: hl7.fhir.r4.core-4.0.1.tgz (HL7 FHIR R4 4.0.1, CC0), read in place. Every ValueSet
that a StructureDefinition element in the package binds with strength `required`,
`extensible` or `preferred` (and each ValueSet those import) is expanded here, at build time,
into codes per code system (terminologies.html#valueset, valueset.html#compose):

- `compose.include` with a concept list: those codes (no code system needed);
- a whole code system: every concept of the package's CodeSystem, nested ones included;
- filters `is-a`, `descendent-of`, `is-not-a` (on the concept hierarchy: nesting, or the
  `parent`/`child`/`subsumedBy` properties) and `=` / `in` on a concept property;
- `valueSet` imports (intersected when several are listed), and `compose.exclude`.

What cannot be expanded from the package (SNOMED CT, LOINC, UCUM, BCP-47, MIME types, a
CodeSystem whose `content` is not `complete`) makes that system "open" in the value set:
`bindings.check_code` answers None (cannot tell) for it instead of a wrong False. Four
systems get a rule instead: MIME types (urn:ietf:bcp:13), BCP-47 language tags
(urn:ietf:bcp:47) and UCUM units (syntax checks in bindings.py), and ISO 4217 currencies (the
list below; the package does not carry it).

Output (gzipped JSON, compact): {"source": ..., "valuesets": {url: entry}}, entry =
  {"c": {system: [code, ...]}, "r": {system: rule}, "o": [open system, ...]} -- "o" may hold
  "*" (any system could be open, e.g. an import of a value set we do not have).

Usage: python scripts/gen_valuesets.py [path/to/hl7.fhir.r4.core-4.0.1.tgz]
"""

from __future__ import annotations

import gzip
import json
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACKAGE = ROOT.parent / "shared" / "fhir" / "hl7.fhir.r4.core-4.0.1.tgz"
OUT = ROOT / "src" / "ehelse" / "fhir" / "definitions" / "valuesets.json.gz"

# Code systems checked by a rule in bindings.py rather than by a list.
RULES = {
    "urn:ietf:bcp:13": "mimetype",
    "urn:ietf:bcp:47": "bcp47",
    "http://unitsofmeasure.org": "ucum",
}
ISO_4217 = "urn:iso:std:iso:4217"
# ISO 4217 active alphabetic codes (2019 list, as current when R4 was published), plus the
# fund/precious-metal codes (X..) the standard also lists.
CURRENCIES = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP
ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR
ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD
MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR
PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLL SOS SRD SSP STN SVC SYP SZL THB
TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VES VND VUV WST XAF XAG XAU
XBA XBB XBC XBD XCD XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWL
""".split()
# Value sets the brief names explicitly even where no element binds them directly.
ALWAYS = (
    "http://hl7.org/fhir/ValueSet/mimetypes",
    "http://hl7.org/fhir/ValueSet/languages",
    "http://hl7.org/fhir/ValueSet/all-languages",
    "http://hl7.org/fhir/ValueSet/ucum-units",
    "http://hl7.org/fhir/ValueSet/currencies",
)
ANY = "*"
# The `languages` value set lists common tags, but any BCP-47 tag is allowed beside them
# (its binding is preferred, with all-languages as the maximum value set).
EXTRA_RULES = {"http://hl7.org/fhir/ValueSet/languages": {"urn:ietf:bcp:47": "bcp47"}}


class Expansion:
    """Codes per system, rule per system, and the systems we cannot enumerate."""

    def __init__(self) -> None:
        self.codes: dict[str, set[str]] = {}
        self.rules: dict[str, str] = {}
        self.open: set[str] = set()

    def add(self, system: str, codes: set[str]) -> None:
        self.codes.setdefault(system, set()).update(codes)

    def merge(self, other: "Expansion") -> None:
        for system, codes in other.codes.items():
            self.add(system, codes)
        self.rules.update(other.rules)
        self.open |= other.open

    def to_json(self) -> dict:
        entry: dict = {"c": {s: sorted(c) for s, c in sorted(self.codes.items()) if c}}
        if self.rules:
            entry["r"] = dict(sorted(self.rules.items()))
        if self.open:
            entry["o"] = sorted(self.open)
        return entry


class CodeSystemIndex:
    """One package CodeSystem: its codes, hierarchy and concept properties."""

    def __init__(self, resource: dict):
        self.url = resource["url"]
        self.complete = resource.get("content") == "complete"
        self.children: dict[str, set[str]] = {}
        self.properties: dict[str, dict[str, set[str]]] = {}  # code -> property -> values
        self.codes: list[str] = []
        self._walk(resource.get("concept", []), None)
        for code, props in self.properties.items():  # hierarchy declared by properties
            for parent in props.get("parent", set()) | props.get("subsumedBy", set()):
                self.children.setdefault(parent, set()).add(code)
            for child in props.get("child", set()):
                self.children.setdefault(code, set()).add(child)

    def _walk(self, concepts: list[dict], parent: str | None) -> None:
        for concept in concepts:
            code = concept["code"]
            self.codes.append(code)
            if parent is not None:
                self.children.setdefault(parent, set()).add(code)
            props = self.properties.setdefault(code, {})
            for prop in concept.get("property", []):
                value = next((v for k, v in prop.items() if k.startswith("value")), None)
                props.setdefault(prop["code"], set()).add(str(value).lower() if isinstance(value, bool) else str(value))
            self._walk(concept.get("concept", []), code)

    def descendants(self, code: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self.children.get(code, ()))
        while stack:
            c = stack.pop()
            if c not in seen:
                seen.add(c)
                stack.extend(self.children.get(c, ()))
        return seen

    def filter(self, flt: dict) -> set[str] | None:
        """Codes matching one compose filter (valueset.html#filters), None if unsupported."""
        prop, op, value = flt.get("property"), flt.get("op"), flt.get("value", "")
        if prop in ("concept", "code") and op == "is-a":
            return ({value} | self.descendants(value)) if value in self.properties else set()
        if prop in ("concept", "code") and op == "descendent-of":
            return self.descendants(value)
        if prop in ("concept", "code") and op == "is-not-a":
            return set(self.codes) - {value} - self.descendants(value)
        if op in ("=", "in"):
            wanted = {v.strip() for v in value.split(",")} if op == "in" else {value}
            return {c for c, props in self.properties.items() if props.get(prop, set()) & wanted}
        return None


def load_package(path: Path) -> tuple[list[dict], dict[str, dict], dict[str, CodeSystemIndex]]:
    sds: list[dict] = []
    valuesets: dict[str, dict] = {}
    codesystems: dict[str, CodeSystemIndex] = {}
    with tarfile.open(path) as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if not name.endswith(".json") or not name.startswith(("StructureDefinition-", "ValueSet-", "CodeSystem-")):
                continue
            resource = json.load(tar.extractfile(member))
            kind = resource.get("resourceType")
            if kind == "StructureDefinition":
                sds.append(resource)
            elif kind == "ValueSet":
                valuesets[resource["url"]] = resource
            elif kind == "CodeSystem":
                codesystems[resource["url"]] = CodeSystemIndex(resource)
    return sds, valuesets, codesystems


def bound_valuesets(sds: list[dict]) -> dict[str, str]:
    """url -> strongest binding strength any element gives it (example bindings ignored)."""
    rank = {"required": 3, "extensible": 2, "preferred": 1}
    found: dict[str, str] = {}
    for sd in sds:
        for part in ("snapshot", "differential"):
            for element in sd.get(part, {}).get("element", []):
                binding = element.get("binding") or {}
                strength, url = binding.get("strength"), binding.get("valueSet")
                if url and strength in rank:
                    url = url.split("|")[0]
                    if rank[strength] > rank.get(found.get(url, ""), 0):
                        found[url] = strength
    return found


class Expander:
    def __init__(self, valuesets: dict[str, dict], codesystems: dict[str, CodeSystemIndex]):
        self.valuesets = valuesets
        self.codesystems = codesystems
        self.done: dict[str, Expansion] = {}

    def expand(self, url: str, _stack: tuple[str, ...] = ()) -> Expansion:
        url = url.split("|")[0]
        if url in self.done:
            return self.done[url]
        result = Expansion()
        vs = self.valuesets.get(url)
        if vs is None or url in _stack:
            result.open.add(ANY)
        elif "compose" in vs:
            for include in vs["compose"].get("include", []):
                result.merge(self._include(include, _stack + (url,)))
            for exclude in vs["compose"].get("exclude", []):
                removed = self._include(exclude, _stack + (url,))
                if removed.open or removed.rules:
                    result.open |= set(removed.codes) | removed.open | set(removed.rules)
                for system, codes in removed.codes.items():
                    result.codes.get(system, set()).difference_update(codes)
        elif "expansion" in vs:
            self._contains(vs["expansion"].get("contains", []), result)
        else:
            result.open.add(ANY)
        self.done[url] = result
        return result

    def _contains(self, contains: list[dict], result: Expansion) -> None:
        for item in contains:
            if "system" in item and "code" in item:
                result.add(item["system"], {item["code"]})
            self._contains(item.get("contains", []), result)

    def _include(self, include: dict, stack: tuple[str, ...]) -> Expansion:
        part = self._system_part(include)
        for imported in include.get("valueSet", []):  # valueset.html#compose: imports intersect
            other = self.expand(imported, stack)
            part = other if part is None else _intersect(part, other)
        return part if part is not None else Expansion()

    def _system_part(self, include: dict) -> Expansion | None:
        system = include.get("system")
        if system is None:
            return None
        part = Expansion()
        if "concept" in include:  # an explicit list needs no code system
            part.add(system, {c["code"] for c in include["concept"]})
            return part
        if system in RULES and not include.get("filter"):
            part.rules[system] = RULES[system]
            return part
        if system == ISO_4217 and not include.get("filter"):
            part.add(system, set(CURRENCIES))
            return part
        cs = self.codesystems.get(system)
        if cs is None or not cs.complete:
            part.open.add(system)
            return part
        codes: set[str] = set(cs.codes)
        for flt in include.get("filter", []):
            matched = cs.filter(flt)
            if matched is None:
                part.open.add(system)
                return part
            codes &= matched
        part.add(system, codes)
        return part


def _intersect(a: Expansion, b: Expansion) -> Expansion:
    out = Expansion()
    for system in set(a.codes) & set(b.codes):
        out.add(system, a.codes[system] & b.codes[system])
    out.open = a.open | b.open  # an open part on either side leaves us unsure
    return out


def main(package: Path) -> None:
    sds, valuesets, codesystems = load_package(package)
    bound = bound_valuesets(sds)
    expander = Expander(valuesets, codesystems)
    out: dict[str, dict] = {}
    for url in sorted(set(bound) | set(ALWAYS)):
        expansion = expander.expand(url)
        expansion.rules.update(EXTRA_RULES.get(url, {}))
        out[url] = expansion.to_json()
    data = {"source": "hl7.fhir.r4.core 4.0.1 (CC0)", "valuesets": out}
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(OUT, "wb", mtime=0) as fh:  # mtime=0: byte-identical reruns
        fh.write(raw)
    closed = sum(1 for e in out.values() if "o" not in e)
    print(f"{len(out)} value sets ({closed} fully expanded) -> {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PACKAGE)
