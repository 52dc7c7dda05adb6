"""Dates and numbers the way Norwegians write them: `27. november 2026`, `72,5 kg`,
`10 000` (a non-breaking space between thousands, as Språkrådet recommends), and their
English forms. Pure functions of a value and a language, for templates and charts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

MONTHS = {
    "nb": ("januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september",
           "oktober", "november", "desember"),
    "nn": ("januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september",
           "oktober", "november", "desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
}
SHORT_MONTHS = {lang: tuple(m[:3] + ("." if lang != "en" and len(m) > 3 else "") for m in names)
                for lang, names in MONTHS.items()}
NBSP = "\u00a0"


def parse_when(value: Any) -> date | datetime | None:
    """A FHIR date or dateTime (http://hl7.org/fhir/R4/datatypes.html#dateTime): `2026`,
    `2026-11`, `2026-11-27`, `2026-11-27T14:05:00+01:00`. Partial dates become the first day."""
    if value is None or value == "":
        return None
    if isinstance(value, (date, datetime)):
        return value
    text = str(value)
    try:
        if "T" in text:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        parts = text.split("-")
        return date(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1, int(parts[2]) if len(parts) > 2 else 1)
    except (ValueError, IndexError):
        return None


def format_date(value: Any, lang: str = "nb", *, short: bool = False) -> str:
    """`27. november 2026` (nb/nn) or `27 November 2026` (en); `short`: `27. nov. 2026`."""
    when = parse_when(value)
    if when is None:
        return "" if value is None else str(value)
    names = (SHORT_MONTHS if short else MONTHS).get(lang, MONTHS["nb"])
    month = names[when.month - 1]
    if lang == "en":
        return f"{when.day} {month} {when.year}"
    return f"{when.day}. {month} {when.year}"


def format_datetime(value: Any, lang: str = "nb") -> str:
    """`27. november 2026 kl. 14:05` / `27 November 2026, 14:05`; a plain date has no time."""
    when = parse_when(value)
    if not isinstance(when, datetime):
        return format_date(value, lang)
    day = format_date(when, lang)
    return f"{day}, {when:%H:%M}" if lang == "en" else f"{day} kl. {when:%H:%M}"


def format_number(value: Any, lang: str = "nb", decimals: int | None = None) -> str:
    """`72,5` and `10 000` in Norwegian; `72.5` and `10,000` in English. `decimals=None`
    keeps the value's own precision (a lab's `1.50` stays `1,50`)."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if decimals is not None:
        number = round(number, decimals)
    sign = "-" if number < 0 else ""
    text = f"{abs(number):f}"
    whole, _, fraction = text.partition(".")
    group, point = (",", ".") if lang == "en" else (NBSP, ",")
    if len(whole) > 4 or (lang == "en" and len(whole) > 3):  # Norwegian: 4 digits stay together
        chunks = []
        while whole:
            chunks.insert(0, whole[-3:])
            whole = whole[:-3]
        whole = group.join(chunks)
    return sign + whole + (point + fraction if fraction else "")


def format_quantity(quantity: dict[str, Any] | None, lang: str = "nb") -> str:
    """A FHIR Quantity (datatypes.html#Quantity) as `72,5 kg`."""
    if not quantity:
        return ""
    unit = quantity.get("unit") or quantity.get("code") or ""
    comparator = quantity.get("comparator", "")
    number = format_number(quantity.get("value"), lang)
    return f"{comparator}{number}{NBSP}{unit}".strip() if unit else f"{comparator}{number}"
