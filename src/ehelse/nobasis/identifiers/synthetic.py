"""Synthetic identifiers for the seed: valid by the check-digit rules, never a real person's.

Person numbers add 80 to the month, as Skatteetaten's synthetic test identities (Tenor) do,
so no generated person can be a real one. Every function takes a `random.Random` and draws
only from it: the same seed gives the same numbers. Uniqueness across a population is the
caller's concern (keep a set and draw again on a clash).
"""

from __future__ import annotations

import datetime as dt
import random

from ehelse.nobasis.identifiers.personal import check_digits
from ehelse.nobasis.identifiers.registries import orgnr_check_digit

SYNTHETIC_MONTH_OFFSET = 80
DNR_DAY_OFFSET = 40


def _individual_range(year: int) -> range:
    """Individual numbers (III) of the series for the birth year (folkeregisterforskriften):
    1854-1899: 500-749, 1900-1999: 000-499, 2000-2039: 500-999."""
    if 1854 <= year <= 1899:
        return range(500, 750)
    if 1900 <= year <= 1999:
        return range(0, 500)
    if 2000 <= year <= 2039:
        return range(500, 1000)
    raise ValueError(f"no individual number series for birth year {year}")


def _parity(sex: str) -> int:
    lowered = sex.lower()
    if lowered in ("male", "m", "mann"):
        return 1
    if lowered in ("female", "f", "kvinne", "k"):
        return 0
    raise ValueError(f"sex must be male or female (encoded in the number), not {sex!r}")


def _person_number(day: int, month: int, birth_date: dt.date, sex: str, rng: random.Random) -> str:
    series = _individual_range(birth_date.year)
    parity = _parity(sex)
    prefix = f"{day:02d}{month:02d}{birth_date.year % 100:02d}"
    for _ in range(1000):
        individual = rng.randrange(series.start, series.stop)
        if individual % 2 != parity:
            individual += 1 if individual + 1 < series.stop else -1
        first9 = f"{prefix}{individual:03d}"
        k1, k2 = check_digits(first9)
        if k1 is not None and k2 is not None:
            return f"{first9}{k1}{k2}"
    raise RuntimeError("no valid individual number found")  # pragma: no cover - ~1 in 5 fail, never 1000


def synthetic_fnr(birth_date: dt.date, sex: str, rng: random.Random) -> str:
    """A synthetic fødselsnummer (month + 80) for that birth date and sex (male/female)."""
    return _person_number(birth_date.day, birth_date.month + SYNTHETIC_MONTH_OFFSET, birth_date, sex, rng)


def synthetic_dnr(birth_date: dt.date, sex: str, rng: random.Random) -> str:
    """A synthetic D-nummer: day + 40 and month + 80."""
    return _person_number(birth_date.day + DNR_DAY_OFFSET, birth_date.month + SYNTHETIC_MONTH_OFFSET,
                          birth_date, sex, rng)


def synthetic_fhn(rng: random.Random) -> str:
    """A felles hjelpenummer: 8 or 9, eight random digits, two check digits."""
    while True:
        first9 = str(rng.choice((8, 9))) + "".join(str(rng.randrange(10)) for _ in range(8))
        k1, k2 = check_digits(first9)
        if k1 is not None and k2 is not None:
            return f"{first9}{k1}{k2}"


def synthetic_orgnr(rng: random.Random) -> str:
    """An organisasjonsnummer with a valid check digit, starting with 9 as new ones do."""
    while True:
        first8 = "9" + "".join(str(rng.randrange(10)) for _ in range(7))
        k = orgnr_check_digit(first8)
        if k is not None:
            return f"{first8}{k}"


def synthetic_hpr(rng: random.Random) -> str:
    """An HPR-nummer in a range above the ones issued so far (9 digits starting with 99)."""
    return str(rng.randrange(990_000_000, 1_000_000_000))


def synthetic_resh(rng: random.Random) -> str:
    """A RESH-id (an integer without check digit)."""
    return str(rng.randrange(9_000_000, 10_000_000))


def synthetic_her(rng: random.Random) -> str:
    """A HER-id (an integer without check digit)."""
    return str(rng.randrange(9_000_000, 10_000_000))
