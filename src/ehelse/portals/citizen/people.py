"""Acting for others: the list of everyone the citizen may act for (children, fullmakt
givers, persons lacking capacity), what each representation allows, and the switch.

What each right allows is the access policy's own (access/policy.py RIGHTS), described in
words here; the switch only stores a Patient id in the session, and the access rules decide
again on every request (context.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ehelse.oauth.sessions import current_session
from ehelse.portals.citizen.context import ACTING_KEY
from ehelse.portals.ui import flash

# What a relation lets the citizen do, as message keys (shown as a list per person).
ALLOWS = {
    "self": ("allow_read_all", "allow_write_own", "allow_consents"),
    "parent": ("allow_read_all", "allow_write_own", "allow_consents"),
    "parent-limited": ("allow_read_limited", "allow_write_none", "deny_documents", "deny_withheld"),
    "fullmakt": ("allow_read_all", "allow_write_own", "deny_consents"),
    "nearest-relative": ("allow_read_all", "allow_write_own", "deny_consents"),
}


def choose(portal: Any, request: Request, citizen: Any, form: dict[str, Any]) -> Response:
    t = portal.pages.translator(request)
    if request.method == "POST":
        chosen = next((p for p in citizen.people if p.patient_id == form.get("patient")), None)
        if chosen is None:
            return portal.error(request, 400, t("choose_unknown"), citizen)
        session = current_session(request)
        session.data[ACTING_KEY] = chosen.patient_id
        portal.sessions.save(session)
        flash(request, "info", t("choose_done", name=chosen.name) if chosen.relation != "self" else t("choose_done_self"))
        return RedirectResponse(portal.url("/"), status_code=303)
    rows = [{"person": p, "allows": [t(key) for key in ALLOWS.get(p.relation, ())],
             "current": p.patient_id == citizen.acting.patient_id} for p in citizen.people]
    return portal.render(request, "citizen/choose.html", citizen, title=t("choose_title"), rows=rows)
