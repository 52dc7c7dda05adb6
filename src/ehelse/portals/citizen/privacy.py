"""Privacy: who has looked at my record (audit/report.py who_has_looked, in plain words),
block named personnel, restrict (sperre) parts of the summary record, reserve against it,
and fullmakt (give, see, revoke) - every setting a Consent in DOMAIN.md's shape, written
through the API like any other change (the access rules decide who may: the person, or a
parent of a child under 12; never a fullmakt holder, DOMAIN.md)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from types import SimpleNamespace
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ehelse.access.care import GRANT_CODE, GRANT_SYSTEM
from ehelse.audit.report import who_has_looked
from ehelse.errors import BadRequest, Forbidden, NotFound
from ehelse.nobasis.seed import consents as shapes
from ehelse.nobasis.seed.vocabulary import CONSENT_CATEGORY, CONSENT_EMERGENCY_NOTICE
from ehelse.portals.citizen import fhirtext
from ehelse.portals.ui import flash, measure

FNR_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.1"
SETTINGS = ("block", "restriction", "reservation", "fullmakt", "lack-of-capacity")


def _may_manage(citizen: Any) -> None:
    if not (citizen.is_self or citizen.rights.consents):
        raise NotFound("privacy settings stay with the person")


def _consents(citizen: Any) -> list[dict[str, Any]]:
    return citizen.search("Consent", patient=citizen.subject, _count=200, exact=True)  # written back (_notice)


def _category(consent: dict[str, Any]) -> str:
    return fhirtext.code_of((consent.get("category") or [{}])[0], CONSENT_CATEGORY) or ""


def _person(citizen: Any) -> Any:
    return SimpleNamespace(id=citizen.acting.patient_id, display=citizen.acting.name)


def privacy(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    _may_manage(citizen)
    if request.method == "POST":
        _change(citizen, form, t)
        flash(request, "success", t("privacy_saved"))
        return RedirectResponse(portal.url("/personvern"), status_code=303)
    with measure(request.scope, "fhir"):
        found = [c for c in _consents(citizen) if c.get("status") == "active"]
        notices = citizen.search("Communication", subject=citizen.subject, category=f"{GRANT_SYSTEM}|{GRANT_CODE}",
                                 _sort="-sent", _count=50)
    with measure(request.scope, "audit"):
        looked = who_has_looked(citizen.raw, citizen.acting.patient_id, limit=200)
    blocks = [c for c in found if _category(c) == "block"]
    blocked_refs = {a["reference"].get("reference") for c in blocks for a in (c.get("provision") or {}).get("actor") or []}
    return portal.render(request, "citizen/privacy.html", citizen, title=t("privacy_title"), nav="privacy",
                         looked=looked, blocks=blocks, restricted=[c for c in found if _category(c) == "restriction"],
                         reserved=[c for c in found if _category(c) == "reservation"],
                         candidates=[p for p in _practitioners(citizen) if p["reference"] not in blocked_refs],
                         notify=_notify(found), notices=notices, fhirtext=fhirtext)


def _notify(consents: list[dict[str, Any]]) -> bool:
    """The emergency-notice choice as access/care.py reads it: notified unless the newest
    active notice Consent says deny."""
    found = [c for c in consents if _category(c) == CONSENT_EMERGENCY_NOTICE[0]]
    if not found:
        return True
    newest = max(found, key=lambda c: (c.get("dateTime") or "", (c.get("meta") or {}).get("lastUpdated") or ""))
    return (newest.get("provision") or {}).get("type") != "deny"


def _notice(citizen: Any, notify: bool) -> None:
    """Store the choice as one active Consent (category emergency-notification): earlier
    choices become inactive, so the record keeps the history of them."""
    for old in _consents(citizen):
        if _category(old) == CONSENT_EMERGENCY_NOTICE[0] and old.get("status") == "active":
            old["status"] = "inactive"
            citizen.update(old)
    person = _person(citizen)
    citizen.create({
        "resourceType": "Consent", "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": CONSENT_CATEGORY, "code": CONSENT_EMERGENCY_NOTICE[0],
                                  "display": CONSENT_EMERGENCY_NOTICE[1]}]}],
        "patient": {"reference": f"Patient/{person.id}", "display": person.display},
        "dateTime": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "performer": [{"reference": citizen.subject}],
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                   "code": "OPTIN" if notify else "OPTOUT"}]},
        "provision": {"type": "permit" if notify else "deny"},
    })


def _practitioners(citizen: Any) -> list[dict[str, str]]:
    """Personnel the person has met (visits) or who looked: the ones one would want to block."""
    found: dict[str, str] = {}
    for encounter in citizen.search("Encounter", patient=citizen.subject, _sort="-date", _count=100):
        for p in encounter.get("participant") or []:
            ref = (p.get("individual") or {}).get("reference", "")
            if ref.startswith("PractitionerRole/"):
                role = citizen.read("PractitionerRole", ref.split("/", 1)[1])
                practitioner = role.get("practitioner") or {}
                if practitioner.get("reference"):
                    found[practitioner["reference"]] = practitioner.get("display") or citizen.reference_display(practitioner)
            elif ref.startswith("Practitioner/"):
                found[ref] = citizen.reference_display(p["individual"])
    return [{"reference": r, "name": n} for r, n in sorted(found.items(), key=lambda x: x[1])]


def _change(citizen: Any, form: dict[str, Any], t: Any) -> None:
    action = form.get("action", "")
    today = date.today()
    person = _person(citizen)
    if action == "block":
        ref = form.get("practitioner", "")
        chosen = next((p for p in _practitioners(citizen) if p["reference"] == ref), None)
        if chosen is None:
            raise BadRequest(t("privacy_unknown_practitioner"))
        consent = shapes.block("x", person, ref.split("/", 1)[1], chosen["name"], today)
    elif action == "restrict":
        consent = shapes.restriction("x", person, today)
    elif action == "reserve":
        consent = shapes.reservation("x", person, today)
    elif action == "notice":
        if form.get("notify") not in ("yes", "no"):
            raise BadRequest(t("privacy_unknown_setting"))
        _notice(citizen, form["notify"] == "yes")
        return
    elif action == "withdraw":
        consent = citizen.read("Consent", form.get("consent", ""))
        if _category(consent) not in SETTINGS:
            raise BadRequest(t("privacy_unknown_setting"))
        consent["status"] = "inactive"
        citizen.update(consent)
        return
    else:
        raise BadRequest(t("privacy_unknown_setting"))
    consent.pop("id", None)
    citizen.create(consent)


def fullmakt(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    """Fullmakter the person has given (see, revoke, give to a registered relative) and the
    ones they hold for others."""
    t = portal.pages.translator(request)
    _may_manage(citizen)
    if request.method == "POST":
        if form.get("revoke"):
            consent = citizen.read("Consent", form["revoke"])
            if _category(consent) != "fullmakt":
                raise BadRequest(t("privacy_unknown_setting"))
            consent["status"] = "inactive"
            citizen.update(consent)
            flash(request, "success", t("fullmakt_revoked"))
        else:
            _give(citizen, form, t)
            flash(request, "success", t("fullmakt_given_flash"))
        return RedirectResponse(portal.url("/fullmakt"), status_code=303)
    with measure(request.scope, "fhir"):
        given = [c for c in _consents(citizen) if _category(c) == "fullmakt" and c.get("status") == "active"]
        relatives = citizen.search("RelatedPerson", patient=citizen.subject, _count=50)
    held = [p for p in citizen.people if p.relation in ("fullmakt", "nearest-relative")] if citizen.is_self else []
    return portal.render(request, "citizen/fullmakt.html", citizen, title=t("fullmakt_title"), nav="privacy",
                         given=given, relatives=relatives, held=held, today=date.today().isoformat())


def _give(citizen: Any, form: dict[str, Any], t: Any) -> None:
    """Give a fullmakt to a registered relative, or to a person named by FNR: then the
    holder's RelatedPerson and the Consent are one FHIR transaction (both or neither), and
    access/writes.py checks the rules (giver 16+, holder 18+, no confidential address)."""
    try:
        start = date.fromisoformat(form.get("start") or date.today().isoformat())
        end = date.fromisoformat(form["end"]) if form.get("end") else None
    except ValueError:
        raise BadRequest(t("fullmakt_bad_date")) from None
    if end is not None and end <= start:
        raise BadRequest(t("fullmakt_bad_period"))
    if form.get("area") != "3":
        raise BadRequest(t("fullmakt_bad_area"))
    from ehelse.oauth.people import display_name

    fnr = str(form.get("holder_fnr", "")).replace(" ", "")
    if not fnr and form.get("holder"):
        relative = citizen.read("RelatedPerson", form.get("holder", ""))
        consent = shapes.fullmakt("x", _person(citizen), relative["id"], display_name(relative), start, end)
        consent.pop("id", None)
        citizen.create(consent)
        return
    if len(fnr) != 11 or not fnr.isdigit():
        raise BadRequest(t("fullmakt_bad_fnr"))
    holder = {"resourceType": "RelatedPerson", "active": True,
              "patient": {"reference": citizen.subject, "display": citizen.acting.name},
              "identifier": [{"use": "official", "system": FNR_SYSTEM, "value": fnr}],
              "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                            "code": "HPOWATT", "display": "healthcare power of attorney"}]}]}
    consent = shapes.fullmakt("x", _person(citizen), "x", "", start, end)
    consent.pop("id", None)
    holder_url = "urn:uuid:" + str(uuid.uuid4())
    from ehelse.access.representation import find_patient

    registered = find_patient(citizen.raw, fnr)  # the name to show back; writes.py decides
    name = display_name(registered) if registered else ""
    if name:
        holder["name"] = registered.get("name", [])[:1]
    consent["provision"]["actor"][0]["reference"] = {"reference": holder_url, "display": name}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": holder_url, "resource": holder, "request": {"method": "POST", "url": "RelatedPerson"}},
        {"resource": consent, "request": {"method": "POST", "url": "Consent"}}]}
    try:
        citizen.call("POST", "", resource=bundle)
    except Forbidden as error:  # the rules said no: say which, in the user's language
        text = str(error)
        raise BadRequest(t("fullmakt_giver_age") if "age of 16" in text else t("fullmakt_not_allowed")) from None
