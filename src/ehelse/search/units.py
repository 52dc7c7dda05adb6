"""Canonical UCUM units for quantity search across units that convert.

http://hl7.org/fhir/R4/search.html#quantity: a server may compare quantities in canonical
units ("UCUM-aware"), so `5.4|http://unitsofmeasure.org|mmol/L` also finds `0.0054 mol/L`.
A full UCUM engine is out of scope; this table covers the units common in clinical data.
Each UCUM code maps to (canonical code, factor): value_in_canonical = value * factor.
Temperature is affine, handled apart (Cel and [degF] to K).

Converted: mass g/mg/ug/ng/kg/[lb_av]/[oz_av] -> g; length m/cm/mm/km/um/[in_i]/[ft_i] -> m;
volume L/dL/mL/uL -> L; amount of substance mol/mmol/umol/nmol -> mol; mass and amount
concentration per L/dL/mL (g/L, mg/dL, mmol/L, ...) -> g/L or mol/L; time s/min/h/d/wk/ms
-> s (mo and a are not exact and are left alone); pressure mm[Hg]/kPa/Pa -> Pa;
temperature Cel/[degF]/K -> K.
"""

from __future__ import annotations

UCUM = "http://unitsofmeasure.org"

_MASS = {"kg": 1e3, "g": 1.0, "mg": 1e-3, "ug": 1e-6, "ng": 1e-9, "pg": 1e-12,
         "[lb_av]": 453.59237, "[oz_av]": 28.349523125}
_LENGTH = {"km": 1e3, "m": 1.0, "cm": 1e-2, "mm": 1e-3, "um": 1e-6, "[in_i]": 0.0254, "[ft_i]": 0.3048}
_VOLUME = {"L": 1.0, "dL": 1e-1, "mL": 1e-3, "uL": 1e-6, "l": 1.0, "dl": 1e-1, "ml": 1e-3}
_AMOUNT = {"mol": 1.0, "mmol": 1e-3, "umol": 1e-6, "nmol": 1e-9, "pmol": 1e-12}
_TIME = {"s": 1.0, "ms": 1e-3, "min": 60.0, "h": 3600.0, "d": 86400.0, "wk": 604800.0}
_PRESSURE = {"Pa": 1.0, "kPa": 1e3, "mm[Hg]": 133.322387415}


def _table() -> dict[str, tuple[str, float]]:
    table: dict[str, tuple[str, float]] = {}
    for units, canonical in ((_MASS, "g"), (_LENGTH, "m"), (_VOLUME, "L"), (_AMOUNT, "mol"),
                             (_TIME, "s"), (_PRESSURE, "Pa")):
        for code, factor in units.items():
            table[code] = (canonical, factor)
    for top, base in ((_MASS, "g"), (_AMOUNT, "mol")):
        for code, factor in top.items():
            for volume, volume_factor in _VOLUME.items():
                table[f"{code}/{volume}"] = (f"{base}/L", factor / volume_factor)
    return table


_CONVERT = _table()


def canonical(code: str, value: float) -> tuple[str, float] | None:
    """(canonical UCUM code, value in it), or None when the unit is not in the table."""
    found = _CONVERT.get(code)
    if found is not None:
        return found[0], _round(value * found[1])
    if code == "Cel":
        return "K", _round(value + 273.15)
    if code == "[degF]":
        return "K", _round((value - 32.0) * 5.0 / 9.0 + 273.15)
    if code == "K":
        return "K", value
    return None


def _round(value: float) -> float:
    """12 significant digits: 9.77 mg/dL and a search for 9.77 mg/dL must land on the same
    float (9.77 * 0.01 is 0.09770000000000001), or `eb9.77` would find 9.77."""
    return float(f"{value:.12g}")
