"""Pseudonymisation for research extracts: resources are rewritten before any view sees them.

- Person: a keyed HMAC-SHA256 of the FNR (or D-number) with the project's key: the same
  person gets the same pseudonym in every extract of one project, and pseudonyms of two
  projects (two keys) cannot be linked. The Patient's id and every reference to it become
  the pseudonym; the only identifier left is the pseudonym itself.
- Every other resource id and reference is keyed the same way (HMAC of "Type/id"), so no
  id links an extract to the live database or to another project's extract.
- Birth dates are reduced to the year (default) or year-month; deceased dates likewise.
- Removed: names, telecom, photos, contacts, addresses below the municipality (line, city,
  postal code; the district and the no-basis municipality code stay), every identifier but
  the pseudonym, narrative `text`, `note`, `comment`, free-text strings (`valueString`,
  `description`, `patientInstruction`), Attachment `data` and `url`, display texts of
  references (they carry names), extensions other than the municipality code, and `meta`.
`declaration()` says what was done; write it beside the output (declaration_files()).
Pseudonymised data are still personal data (GDPR art. 4(5); DOMAIN.md "Health statistics").
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import orjson

from ehelse.analytics.sources import Source

FNR_SYSTEMS = ("urn:oid:2.16.578.1.12.4.1.4.1", "urn:oid:2.16.578.1.12.4.1.4.2")  # FNR, D-nummer
MUNICIPALITY = "http://hl7.no/fhir/StructureDefinition/no-basis-municipalitycode"
PSEUDONYM_SYSTEM = "urn:ehelse:pseudonym"
PERSON_TYPES = {"Patient", "RelatedPerson", "Practitioner", "Person"}
DROP_PERSON = ("name", "telecom", "photo", "contact", "communication", "qualification")
DROP_EVERYWHERE = ("note", "comment", "meta", "valueString", "description", "patientInstruction")
ADDRESS_KEEP = ("use", "type", "district", "_district", "country")
MIN_KEY_BYTES = 16


class Pseudonymiser:
    def __init__(self, project_key: bytes, *, project: str = "", date_precision: str = "year"):
        if len(project_key) < MIN_KEY_BYTES:
            raise ValueError(f"The project key must be at least {MIN_KEY_BYTES} bytes (use a random key file)")
        if date_precision not in ("year", "month"):
            raise ValueError("date_precision is year or month")
        self.key, self.project, self.date_precision = project_key, project, date_precision
        self.patient_pseudonyms: dict[str, str] = {}  # live Patient id -> pseudonym
        self.counts = {"resources": 0, "patients": 0}

    def keyed(self, text: str) -> str:
        return hmac.new(self.key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def pseudonym(self, fnr: str) -> str:
        """The person's pseudonym in this project: HMAC-SHA256(project key, FNR)."""
        return self.keyed("fnr:" + fnr)

    def learn_patient(self, patient: dict[str, Any]) -> str:
        fnr = next((i.get("value") for i in patient.get("identifier") or []
                    if i.get("system") in FNR_SYSTEMS and i.get("value")), None)
        pseudonym = self.pseudonym(fnr) if fnr else self.keyed("Patient/" + str(patient.get("id")))
        self.patient_pseudonyms[str(patient.get("id"))] = pseudonym
        return pseudonym

    def resource(self, resource: dict[str, Any]) -> dict[str, Any]:
        """A pseudonymised copy of the resource."""
        type_ = resource.get("resourceType")
        out = self._clean(resource)
        if type_ == "Patient":
            pseudonym = self.patient_pseudonyms.get(str(resource.get("id"))) or self.learn_patient(resource)
            out["id"] = pseudonym
            out["identifier"] = [{"system": f"{PSEUDONYM_SYSTEM}:{self.project}" if self.project else PSEUDONYM_SYSTEM,
                                  "value": pseudonym}]
            self.counts["patients"] += 1
        elif "id" in out:
            out["id"] = self.keyed(f"{type_}/{out['id']}")
        if type_ in PERSON_TYPES:
            for key in DROP_PERSON:
                out.pop(key, None)
            if "address" in out:
                out["address"] = [{k: v for k, v in a.items() if k in ADDRESS_KEEP} for a in out["address"]]
            for key in ("birthDate", "deceasedDateTime"):
                if isinstance(out.get(key), str):
                    out[key] = self.coarse_date(out[key])
        self.counts["resources"] += 1
        return out

    def coarse_date(self, value: str) -> str:
        return value[:4] if self.date_precision == "year" else value[:7]

    def _clean(self, value: Any, key: str = "") -> Any:
        if isinstance(value, list):
            return [self._clean(v, key) for v in value]
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k in DROP_EVERYWHERE or k == "identifier":
                continue
            if k == "text" and isinstance(v, dict):
                continue  # Narrative (its xhtml may name anyone); CodeableConcept.text stays
            if k in ("extension", "modifierExtension"):
                kept = [e for e in v if isinstance(e, dict) and e.get("url") == MUNICIPALITY]
                if kept:
                    out[k] = kept
                continue
            if k == "reference" and isinstance(v, str):
                out[k] = self.reference(v)
                continue
            if k == "display" and "reference" in value:
                continue
            if k in ("data", "url") and ("contentType" in value or "size" in value or "hash" in value):
                continue  # Attachment content
            out[k] = self._clean(v, k)
        return out

    def reference(self, reference: str) -> str:
        parts = reference.split("/")
        if len(parts) >= 2 and not reference.startswith("#"):
            type_, id_ = parts[-2], parts[-1]
            if parts[-2] == "_history" and len(parts) >= 4:
                type_, id_ = parts[-4], parts[-3]
            if type_ == "Patient":
                return "Patient/" + (self.patient_pseudonyms.get(id_) or self.keyed("Patient/" + id_))
            return f"{type_}/{self.keyed(f'{type_}/{id_}')}"
        return "urn:pseudonymised:" + self.keyed(reference)

    def declaration(self, *, view: str, rows: int | None = None) -> dict[str, Any]:
        return {
            "kind": "pseudonymised research extract",
            "project": self.project,
            "projectKeyFingerprint": hashlib.sha256(self.key).hexdigest()[:12],
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "view": view,
            "rows": rows,
            "resourcesRead": self.counts["resources"],
            "patients": self.counts["patients"],
            "pseudonym": "HMAC-SHA256(project key, FNR/D-number), first 128 bits in hex; same person, "
                         "same pseudonym within the project; unlinkable across projects",
            "otherIds": "every resource id and reference keyed the same way (HMAC of Type/id)",
            "birthDates": f"reduced to {self.date_precision}",
            "removed": ["names", "telecom", "photos", "contacts", "address line, city and postal code",
                        "identifiers other than the pseudonym", "narrative text", "notes and comments",
                        "free-text strings (valueString, description, patientInstruction)",
                        "Attachment data and url", "reference display texts",
                        "extensions other than the municipality code", "meta"],
            "kept": ["municipality (district and no-basis municipality code)", "gender", "clinical codes, "
                     "values and dates other than birth and death"],
            "legalNote": "Pseudonymised data are still personal data (GDPR art. 4(5)): store, share and "
                         "delete them under the project's approval.",
        }


class PseudonymisedSource(Source):
    """A Source whose resources are pseudonymised; Patients are read first so references to
    them get the FNR-based pseudonym."""

    def __init__(self, source: Source, pseudonymiser: Pseudonymiser):
        self.source, self.p = source, pseudonymiser
        for patient in source.iter_resources("Patient"):
            pseudonymiser.learn_patient(patient)

    def iter_resources(self, type: str) -> Iterator[dict[str, Any]]:
        return (self.p.resource(r) for r in self.source.iter_resources(type))


def load_key(path: str | Path) -> bytes:
    key = Path(path).read_bytes().strip()
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{path}: a project key needs at least {MIN_KEY_BYTES} bytes")
    return key


def declaration_files(output: str | Path, declaration: dict[str, Any]) -> list[Path]:
    """Write OUTPUT.pseudonymisation.json and .md beside the output; returns their paths."""
    base = Path(str(output) + ".pseudonymisation")
    json_path, md_path = base.with_suffix(base.suffix + ".json"), base.with_suffix(base.suffix + ".md")
    json_path.write_bytes(orjson.dumps(declaration, option=orjson.OPT_INDENT_2))
    lines = [f"# Pseudonymisation declaration: {Path(output).name}", "",
             f"- Project: {declaration['project'] or '(unnamed)'} (key fingerprint "
             f"`{declaration['projectKeyFingerprint']}`)",
             f"- View: {declaration['view']}; rows: {declaration['rows']}; created {declaration['created']}",
             f"- Pseudonym: {declaration['pseudonym']}", f"- Other ids: {declaration['otherIds']}",
             f"- Birth dates: {declaration['birthDates']}", "- Removed: " + "; ".join(declaration["removed"]),
             "- Kept: " + "; ".join(declaration["kept"]), "", declaration["legalNote"], ""]
    md_path.write_text("\n".join(lines), encoding="utf-8")
    return [json_path, md_path]
