"""Read the code lists a user downloads from the national code servers into a FHIR CodeSystem.

The full ICD-10, ICPC-2, ATC and NLK are licensed, so we ship demo subsets and read the real
files a user has the right to. Formats read:

- Delimited text, as Direktoratet for e-helse has published its code files (ICD-10 "datafiler":
  `code<TAB>text`, UTF-8, codes without the dot) and as FinnKode / Excel exports save them:
  tab, semicolon, comma or `|` separated (sniffed), UTF-8 (with or without BOM) or
  Windows-1252. A first row naming its columns is recognised (`Kode`/`Code`, `Tekst`/`Tekst
  uten lengdebegrensning`/`Text`/`Display`/`Navn`/`Betegnelse`, `Foreldrekode`/`Parent`/
  `Overordnet`); without one the columns are code, display[, parent].
- FHIR JSON: a CodeSystem, or a Bundle of them (what the national FHIR terminology server and
  the HL7 Norway `kodeverk` packages publish).

Volven's XML export is not read (we could not find a published description of its shape);
convert it to CSV.

Hierarchy: when the file gives no parent, a code's parent is the longest proper prefix that
is itself a code in the file (dots ignored): E119 -> E11, A10BA02 -> A10BA -> A10B -> A10 -> A,
T90 -> T. This is how ICD-10, ATC and ICPC-2 codes are built, so `is-a`/$subsumes work on a
loaded file as on the demo subsets.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from ehelse.errors import BadRequest
from ehelse.nobasis.terminology import ATC, ICD10, ICPC2, NLK

CODE_HEADERS = {"kode", "code", "kodeverdi", "verdi", "atc-kode", "atc kode", "atc"}
DISPLAY_HEADERS = {"tekst uten lengdebegrensning", "tekst", "text", "display", "navn", "betegnelse",
                   "kodetekst", "term", "beskrivelse", "tekst med maksimalt 60 tegn", "name"}
PARENT_HEADERS = {"foreldrekode", "parent", "overordnet", "overordnet kode", "parent code", "forelder"}
ALIASES = {ICPC2: ["http://hl7.org/fhir/sid/icpc-2", "urn:oid:2.16.840.1.113883.6.139"],
           ATC: ["http://www.whocc.no/atc"]}
# A file's name says which system it is when --system is not given.
KNOWN = [(re.compile(r"icd[-_ ]?10", re.I), ICD10, "icd10", "ICD-10"),
         (re.compile(r"icpc", re.I), ICPC2, "icpc2", "ICPC-2"),
         (re.compile(r"atc", re.I), ATC, "atc", "ATC"),
         (re.compile(r"nlk|laboratorie", re.I), NLK, "nlk", "Norsk laboratoriekodeverk")]


def load_codesystem(path: str | Path, system: str | None = None, *, version: str | None = None) -> dict[str, Any]:
    """The CodeSystem the file describes (complete content), ready to store."""
    path = Path(path)
    raw = path.read_bytes()
    if raw.lstrip()[:1] in (b"{", b"["):
        return _from_json(raw, path)
    text = _decode(raw)
    url, id_, title = _identify(path, system)
    concepts = parse_delimited(text, source=path.name)
    resource: dict[str, Any] = {
        "resourceType": "CodeSystem", "id": id_, "url": url, "name": re.sub(r"\W", "", title) or "CodeSystem",
        "title": title, "status": "active", "content": "complete", "caseSensitive": False,
        "hierarchyMeaning": "is-a", "description": f"Loaded from {path.name} by `ehelse terminology load`.",
        "property": [{"code": "parent", "uri": "http://hl7.org/fhir/concept-properties#parent", "type": "code"}],
        "count": len(concepts), "concept": concepts,
    }
    aliases = ALIASES.get(url)
    if aliases:
        resource["identifier"] = [{"system": "urn:ietf:rfc:3986", "value": a} for a in aliases]
    if version:
        resource["version"] = version
    return resource


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


def _identify(path: Path, system: str | None) -> tuple[str, str, str]:
    for pattern, url, id_, title in KNOWN:
        if (system and system == url) or (not system and pattern.search(path.name)):
            return url, id_, title
    if not system:
        raise BadRequest(f"Cannot tell which code system {path.name} is: give --system URL")
    slug = re.sub(r"[^A-Za-z0-9\-.]", "-", system.rsplit("/", 1)[-1].replace("urn:oid:", ""))[:64].strip("-")
    return system, slug or "codesystem", system


def _from_json(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"{path.name} is not valid JSON: {exc}") from None
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        systems = [e.get("resource") for e in data.get("entry") or []
                   if (e.get("resource") or {}).get("resourceType") == "CodeSystem"]
        if len(systems) != 1:
            raise BadRequest(f"{path.name} holds {len(systems)} CodeSystems; load one at a time")
        data = systems[0]
    if not isinstance(data, dict) or data.get("resourceType") != "CodeSystem" or not data.get("url"):
        raise BadRequest(f"{path.name} is not a FHIR CodeSystem with a url")
    return data


def _sniff(text: str) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters="\t;,|").delimiter
    except csv.Error:
        return "\t" if "\t" in sample else ";"


def parse_delimited(text: str, *, source: str = "file") -> list[dict[str, Any]]:
    """Concepts (code, display, parent property) from delimited text."""
    delimiter = _sniff(text)
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in r)]
    if not rows:
        raise BadRequest(f"{source} has no codes")
    header = [c.strip().lower() for c in rows[0]]
    code_col, display_col, parent_col = 0, 1, 2 if len(rows[0]) > 2 else None
    if set(header) & (CODE_HEADERS | DISPLAY_HEADERS):
        code_col = _column(header, CODE_HEADERS, source, "code")
        display_col = _column(header, DISPLAY_HEADERS, source, "text")
        parent_col = next((i for i, h in enumerate(header) if h in PARENT_HEADERS), None)
        rows = rows[1:]
    concepts: dict[str, dict[str, Any]] = {}
    parents: dict[str, str] = {}
    for number, row in enumerate(rows, start=1):
        code = row[code_col].strip() if code_col < len(row) else ""
        if not code:
            continue
        display = row[display_col].strip() if display_col < len(row) else ""
        concepts.setdefault(code, {"code": code, **({"display": display} if display else {})})
        if parent_col is not None and parent_col < len(row) and row[parent_col].strip():
            parents[code] = row[parent_col].strip()
    if not concepts:
        raise BadRequest(f"{source} has no codes")
    if parent_col is None:
        parents = derive_parents(list(concepts))
    for code, parent in parents.items():
        if parent in concepts and parent != code:
            concepts[code]["property"] = [{"code": "parent", "valueCode": parent}]
    return list(concepts.values())


def _column(header: list[str], names: set[str], source: str, what: str) -> int:
    # prefer the first name of the set order that is present (e.g. the full text over the 60-char text)
    for index, name in enumerate(header):
        if name in names and not (what == "text" and name == "tekst med maksimalt 60 tegn"
                                  and "tekst uten lengdebegrensning" in header):
            return index
    raise BadRequest(f"{source}: no {what} column in the header {header}")


def derive_parents(codes: list[str]) -> dict[str, str]:
    """code -> the longest proper prefix (dots ignored) that is also a code."""
    by_key = {code.replace(".", ""): code for code in codes}
    parents = {}
    for code in codes:
        key = code.replace(".", "")
        for length in range(len(key) - 1, 0, -1):
            parent = by_key.get(key[:length])
            if parent is not None:
                parents[code] = parent
                break
    return parents
