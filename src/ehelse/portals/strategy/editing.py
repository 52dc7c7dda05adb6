"""Editing the plan from the browser (admins only) and the indicators' history.

    GET/POST /strategi/rediger/{code}   one item's form: title; for an activity owner, status,
                                        start and end; for an indicator baseline, target, their
                                        years and the unit. CSRF-checked; checked by plan.check()
    GET      /strategi/logg-inn          the HelseID-style login (role `administrator`)

An admin is personnel logged in with the built-in HelseID-style login in the role
`administrator` (portals/healthdata/app.py is_admin); everyone else reads only.

History: each time an indicator is computed, today's value is kept in the item's
`data.history` ({date: value}, at most one snapshot per day), so the trend chart shows what
the platform measured over time rather than a single point.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ehelse.errors import BadRequest
from ehelse.portals.strategy.plan import STATUSES, Item, PlanStore, check

FIELDS = {  # the form's fields per kind, beyond the title
    "goal": (), "subgoal": (),
    "activity": ("owner", "status", "start", "end"),
    "indicator": ("baseline", "baseline_year", "target", "target_year", "unit"),
}
NUMBERS = {"baseline": float, "target": float, "baseline_year": int, "target_year": int}
HISTORY_DAYS = 3660  # about ten years of daily snapshots per indicator


def apply_form(item: Item, form: dict[str, str]) -> Item:
    """A copy of `item` with the form's values; BadRequest says which field is wrong."""
    data = dict(item.data)
    title = form.get("title", "").strip()[:200]
    for key in FIELDS[item.kind]:
        value = form.get(key, "").strip()[:100]
        if not value:
            data.pop(key, None)
            continue
        if key in NUMBERS:
            try:
                data[key] = NUMBERS[key](value.replace(",", "."))  # Norwegian decimal comma
            except ValueError:
                raise BadRequest(f"{key}: {value!r} is not a number") from None
        elif key in ("start", "end"):
            try:
                date.fromisoformat(value)
            except ValueError:
                raise BadRequest(f"{key}: {value!r} is not a date (YYYY-MM-DD)") from None
            data[key] = value
        elif key == "status" and value not in STATUSES:
            raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
        else:
            data[key] = value
    if data.get("start") and data.get("end") and data["end"] < data["start"]:
        raise BadRequest("end: the end date is before the start date")
    data.pop("seed", None)  # an admin's edit is no longer the illustrative seed
    edited = Item(item.code, item.kind, title, item.parent, data, item.position)
    check(edited)
    return edited


def record_snapshot(store: PlanStore, item: Item, value: float | None, today: str | None = None) -> list[tuple[str, float]]:
    """Keep today's computed value (once per day) and return the history, oldest first."""
    history: dict[str, float] = dict(item.data.get("history") or {})
    today = today or date.today().isoformat()
    if value is not None and today not in history:
        history[today] = round(float(value), 2)
        kept = dict(sorted(history.items())[-HISTORY_DAYS:])
        store.save([Item(item.code, item.kind, item.title, item.parent, {**item.data, "history": kept}, item.position)])
        history = kept
    return sorted(history.items())


def form_values(item: Item) -> dict[str, Any]:
    values = {"title": item.title}
    for key in FIELDS[item.kind]:
        value = item.data.get(key)
        values[key] = "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
    return values
