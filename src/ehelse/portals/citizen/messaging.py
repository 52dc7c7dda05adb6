"""Messages with the GP office and other care teams: FHIR Communication
(http://hl7.org/fhir/R4/communication.html). A thread is a first message and the replies
that point at it with `inResponseTo`. Attachments travel inline as `contentAttachment`
(type and size limited below; a citizen may not write Binary). Read status is FHIR's own:
a message to the person is read once it has `Communication.received` (set by the recipient
side when the thread is opened; access/writes.py lets a citizen change that element and
nothing else), so the clinician workspace sees the same status through the API. Unread
messages to the person are the portal's notifications."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ehelse.errors import BadRequest, FhirError, NotFound
from ehelse.portals.ui import flash, measure

ALLOWED_TYPES = {"application/pdf", "image/png", "image/jpeg", "text/plain"}
MAX_ATTACHMENT = 2 * 1024 * 1024
MAX_TEXT = 5000


def _messages(citizen: Any, request: Request, *, exact: bool = False) -> list[dict[str, Any]]:
    """The person's messages, newest first. `exact`: for a thread, whose messages are written
    back when opened (mark_read)."""
    with measure(request.scope, "fhir"):
        # sorted here, not by _sort (see overview.py)
        return sorted(citizen.search("Communication", subject=citizen.subject, _count=500, exact=exact),
                      key=lambda m: m.get("sent") or "", reverse=True)


def unread(portal: Any, citizen: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages to the person without `received` (R4 Communication.received)."""
    return [m for m in messages if _to_person(m, citizen) and not m.get("received")]


def mark_read(citizen: Any, messages: list[dict[str, Any]]) -> None:
    """Set `received` on each (a representative without write rights leaves them unread)."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for message in messages:
        try:
            citizen.update({**message, "received": now})
            message["received"] = now
        except FhirError:
            return


def _to_person(message: dict[str, Any], citizen: Any) -> bool:
    return any(r.get("reference") == citizen.subject for r in message.get("recipient") or [])


def recipients(citizen: Any) -> list[dict[str, str]]:
    """The GP office (Patient.generalPractitioner's organisation) and the care teams of the
    person's recent visits and episodes."""
    found: dict[str, str] = {}
    patient = citizen.read("Patient", citizen.acting.patient_id)
    for gp in patient.get("generalPractitioner") or []:
        ref = gp.get("reference", "")
        if ref.startswith("PractitionerRole/"):
            role = citizen.read("PractitionerRole", ref.split("/", 1)[1])
            org = role.get("organization")
            if org and org.get("reference"):
                found[org["reference"]] = citizen.reference_display(org)
        elif ref.startswith("Organization/"):
            found[ref] = citizen.reference_display(gp)
    for episode in citizen.search("EpisodeOfCare", patient=citizen.subject, status="active", _count=20):
        org = episode.get("managingOrganization")
        if org and org.get("reference"):
            found[org["reference"]] = citizen.reference_display(org)
    encounters = citizen.search("Encounter", patient=citizen.subject, _sort="-date", _count=20)  # the 20 newest
    encounters.sort(key=lambda e: (e.get("period") or {}).get("start") or "", reverse=True)
    for encounter in encounters:
        org = encounter.get("serviceProvider")
        if org and org.get("reference"):
            found.setdefault(org["reference"], citizen.reference_display(org))
    return [{"reference": ref, "name": name} for ref, name in found.items()]


def inbox(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    if request.method == "POST":
        created = _send(portal, request, citizen, form, None)
        flash(request, "success", t("message_sent"))
        return RedirectResponse(portal.url(f"/meldinger/{created['id']}"), status_code=303)
    messages = _messages(citizen, request)
    by_id = {m["id"]: m for m in messages}
    threads = []
    for m in messages:
        if m.get("inResponseTo"):
            continue
        replies = [r for r in messages if _root(r, by_id) == m["id"] and r is not m]
        newest = max([m, *replies], key=lambda x: x.get("sent", ""))
        threads.append({"root": m, "newest": newest, "count": 1 + len(replies),
                        "unread": len(unread(portal, citizen, [m, *replies]))})
    return portal.render(request, "citizen/messages.html", citizen, title=t("messages_title"), nav="messages",
                         threads=threads, recipients=recipients(citizen), max_mb=MAX_ATTACHMENT // (1024 * 1024))


def _root(message: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> str:
    seen = set()
    while message.get("inResponseTo") and message["id"] not in seen:
        seen.add(message["id"])
        parent = message["inResponseTo"][0].get("reference", "").split("/")[-1]
        if parent not in by_id:
            return parent
        message = by_id[parent]
    return message["id"]


def thread(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    root_id = request.path_params["id"]
    messages = _messages(citizen, request, exact=True)
    by_id = {m["id"]: m for m in messages}
    if root_id not in by_id:
        raise NotFound("no such message")
    root = by_id[_root(by_id[root_id], by_id)] if _root(by_id[root_id], by_id) in by_id else by_id[root_id]
    if request.method == "POST":
        _send(portal, request, citizen, form, root)
        flash(request, "success", t("message_sent"))
        return RedirectResponse(portal.url(f"/meldinger/{root['id']}"), status_code=303)
    items = sorted([m for m in messages if _root(m, by_id) == root["id"]], key=lambda m: m.get("sent", ""))
    newly = unread(portal, citizen, items)
    if newly:  # opening the thread marks its messages read
        with measure(request.scope, "fhir"):
            mark_read(citizen, newly)
    return portal.render(request, "citizen/thread.html", citizen, title=_topic(root, t), nav="messages",
                         root=root, items=items, newly={m["id"] for m in newly},
                         from_me=lambda m: (m.get("sender") or {}).get("reference") == citizen.subject,
                         max_mb=MAX_ATTACHMENT // (1024 * 1024))


def _topic(message: dict[str, Any], t: Any) -> str:
    topic = (message.get("topic") or {}).get("text")
    if topic:
        return topic
    text = next((p.get("contentString") for p in message.get("payload") or [] if p.get("contentString")), "")
    return (text[:60] + "…") if len(text) > 60 else (text or t("message"))


def _send(portal: Any, request: Request, citizen: Any, form: dict[str, Any], root: dict[str, Any] | None) -> dict[str, Any]:
    t = portal.pages.translator(request)
    text = str(form.get("text", "")).strip()
    if not text:
        raise BadRequest(t("message_empty"))
    if len(text) > MAX_TEXT:
        raise BadRequest(t("message_too_long", max=MAX_TEXT))
    if root is None:
        allowed = {r["reference"] for r in recipients(citizen)}
        to = form.get("recipient", "")
        if to not in allowed:
            raise BadRequest(t("message_bad_recipient"))
        recipient = {"reference": to}
    else:
        recipient = root.get("sender") if (root.get("sender") or {}).get("reference") != citizen.subject \
            else (root.get("recipient") or [{}])[0]
    sender = {"reference": citizen.subject, "display": citizen.acting.name if citizen.is_self
              else f"{citizen.name} ({t('on_behalf_of', name=citizen.acting.name)})"}
    payload: list[dict[str, Any]] = [{"contentString": text}]
    upload = form.get("attachment")
    if isinstance(upload, tuple):
        name, content_type, data = upload
        if content_type not in ALLOWED_TYPES:
            raise BadRequest(t("attachment_bad_type"))
        if len(data) > MAX_ATTACHMENT:
            raise BadRequest(t("attachment_too_big", max=MAX_ATTACHMENT // (1024 * 1024)))
        payload.append({"contentAttachment": {"contentType": content_type, "title": name[:200], "size": len(data),
                                              "data": base64.b64encode(data).decode("ascii")}})
    message: dict[str, Any] = {
        "resourceType": "Communication", "status": "completed", "category": [{"text": "E-kontakt"}],
        "subject": {"reference": citizen.subject, "display": citizen.acting.name},
        "sent": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "recipient": [recipient], "sender": sender, "payload": payload,
    }
    if root is None and form.get("topic"):
        message["topic"] = {"text": str(form["topic"])[:200]}
    if root is not None:
        message["inResponseTo"] = [{"reference": f"Communication/{root['id']}"}]
    return citizen.create(message)


def attachment(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    """Download an attachment: served as a download (never rendered inline in our origin)."""
    message = citizen.read("Communication", request.path_params["id"])
    found = [p["contentAttachment"] for p in message.get("payload") or [] if "contentAttachment" in p]
    n = request.path_params["n"]
    if not 0 <= n < len(found) or "data" not in found[n]:
        raise NotFound("no such attachment")
    item = found[n]
    content_type = item.get("contentType", "application/octet-stream")
    if content_type not in ALLOWED_TYPES:
        content_type = "application/octet-stream"
    return Response(base64.b64decode(item["data"]), media_type=content_type,
                    headers={"Content-Disposition": f'attachment; filename="vedlegg-{n + 1}"',
                             "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
