"""Norwegian person numbers: fødselsnummer (FNR), D-nummer, H-nummer, felles hjelpenummer.

All four are 11 digits `DDMMYY III K1 K2` with two mod-11 check digits
(https://www.skatteetaten.no/person/folkeregister/identitetsnummer/fodselsnummer/,
HIS 1001:2010 "Identifikatorer for personer", nhn.no "Hva er felles hjelpenummer?"):

    k1 = 11 - (3,7,6,1,8,9,4,5,2 · d1..d9 mod 11)      11 -> 0, 10 -> the number is invalid
    k2 = 11 - (5,4,3,2,7,6,5,4,3,2 · d1..d9,k1 mod 11)

- D-nummer: day + 40. H-nummer (a hospital's internal number): month + 40.
- Felles hjelpenummer (FHN): first digit 8 or 9, the rest assigned at random: no birth date.
- Synthetic test identities (Skatteetaten's Tenor test data): month + 80. We accept them
  everywhere and generate nothing else (synthetic.py). python-stdnum rejects them.
- The 2032 rule: numbers issued from 2032 may have (Σ w1·d1..d9 + k1) mod 11 in {0,1,2,3};
  k2 is unchanged. Such numbers encode neither gender nor century, so for a number that is
  valid only under this rule we derive neither (nor a birth date). python-stdnum rejects them.

We use python-stdnum (`stdnum.no.fodselsnummer`) for compacting and the classic check
digits, and add what it lacks: the month + 80 and 2032 rules, H-nummer/FHN classification
and a "why" for every rejection.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from stdnum.no import fodselsnummer as _stdnum_fnr

W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)

KINDS = ("FNR", "DNR", "HNR", "FHN")


class InvalidIdentifier(ValueError):
    """The value is not a valid identifier of the kind asked for; str() says why."""


@dataclass(frozen=True, slots=True)
class PersonNumber:
    """A checked person number and what it encodes."""

    value: str  # 11 digits, separators removed
    kind: str  # FNR | DNR | HNR | FHN
    synthetic: bool = False  # month + 80: a test identity, never a real person
    rule_2032: bool = False  # k1 valid only under the 2032 rule: no gender, no century
    birth_date: dt.date | None = None  # None for FHN, 2032-rule numbers, or unknown century
    gender: str | None = None  # FHIR AdministrativeGender: male | female; None when not encoded

    def formatted(self) -> str:
        return format_person_number(self.value)


def compact(value: str) -> str:
    """Strip the separators people write (space, '-', ':', '.')."""
    return _stdnum_fnr.compact(str(value)).replace(".", "")


def check_digits(first9: str) -> tuple[int | None, int | None]:
    """The classic (k1, k2) for the first nine digits; None where the rule gives 10."""
    k1 = _stdnum_fnr.calc_check_digit1(first9)
    if k1 == "10":
        return None, None
    k2 = _stdnum_fnr.calc_check_digit2(first9 + k1)
    return int(k1), None if k2 == "10" else int(k2)


def _k1_remainder(digits: str) -> int:
    """(Σ w1·d1..d9 + k1) mod 11: 0 under the classic rule, 0..3 under the 2032 rule."""
    return (sum(w * int(d) for w, d in zip(W1, digits[:9])) + int(digits[9])) % 11


def _k2_ok(digits: str) -> bool:
    return sum(w * int(d) for w, d in zip(W2, digits[:10])) % 11 == (11 - int(digits[10])) % 11


def _century(yy: int, individual: int) -> int | None:
    """The birth century from the individual number series (folkeregisterforskriften)."""
    if individual <= 499:
        return 1900
    if individual <= 749 and yy >= 54:
        return 1800
    if individual >= 900 and yy >= 40:
        return 1900
    if individual >= 500 and yy <= 39:
        return 2000
    return None


def _date_exists(day: int, month: int, yy: int) -> bool:
    """Whether DD.MM.YY is a calendar date in some century (29.02.00 is, in 2000)."""
    for century in (1800, 1900, 2000):
        try:
            dt.date(century + yy, month, day)
            return True
        except ValueError:
            continue
    return False


def parse_person_number(value: str, *, allow_2032: bool = True) -> PersonNumber:
    """Check a person number of any kind and say what it encodes; raise InvalidIdentifier
    with the reason when it is not valid.

    A birth date after today is not a rejection (unlike python-stdnum): numbers for births
    up to 2039 are valid by the check digits (02013299997 encodes 2 January 2032), and we
    judge the number, not the register."""
    digits = compact(value)
    if not digits:
        raise InvalidIdentifier("empty value")
    if not digits.isdigit():
        raise InvalidIdentifier(f"{value!r} must contain digits only")
    if len(digits) != 11:
        raise InvalidIdentifier(f"{value!r} has {len(digits)} digits, not 11")
    if not _k2_ok(digits):
        raise InvalidIdentifier(f"{digits} fails its check digits (k2)")
    remainder = _k1_remainder(digits)
    if remainder != 0 and not (allow_2032 and remainder <= 3):
        raise InvalidIdentifier(f"{digits} fails its check digits (k1)")
    rule_2032 = remainder != 0

    day, month, yy, individual = int(digits[0:2]), int(digits[2:4]), int(digits[4:6]), int(digits[6:9])
    if day >= 80:  # felles hjelpenummer: 8 or 9 first, the rest carries no meaning
        if rule_2032:
            raise InvalidIdentifier(f"{digits} fails its check digits (k1)")  # 2032 rule is for FNR/DNR only
        return PersonNumber(digits, "FHN")
    kind = "FNR"
    if day > 40:
        kind, day = "DNR", day - 40
    synthetic = month > 80
    if synthetic:
        month -= 80
    elif month > 40:
        kind, month = ("HNR", month - 40) if kind == "FNR" else (kind, month)
    if kind == "HNR" and rule_2032:
        raise InvalidIdentifier(f"{digits} fails its check digits (k1)")
    if not _date_exists(day, month, yy):
        raise InvalidIdentifier(f"{digits} does not start with a valid date (DDMMYY)")
    if rule_2032:
        return PersonNumber(digits, kind, synthetic, True)
    birth_date = None
    century = _century(yy, individual)
    if century is not None:
        try:
            birth_date = dt.date(century + yy, month, day)
        except ValueError:
            raise InvalidIdentifier(f"{digits} does not start with a valid date (DDMMYY)") from None
    gender = "male" if int(digits[8]) % 2 else "female"
    return PersonNumber(digits, kind, synthetic, False, birth_date, gender)


def validate(value: str, kinds: tuple[str, ...] = ("FNR",), **options) -> PersonNumber:
    """parse_person_number, and the number must be one of `kinds`."""
    number = parse_person_number(value, **options)
    if number.kind not in kinds:
        raise InvalidIdentifier(f"{number.value} is a {_NAMES[number.kind]}, not a {_NAMES[kinds[0]]}")
    return number


_NAMES = {"FNR": "fødselsnummer", "DNR": "D-nummer", "HNR": "H-nummer", "FHN": "felles hjelpenummer"}


def _is(value: str, kinds: tuple[str, ...], **options) -> bool:
    try:
        validate(value, kinds, **options)
        return True
    except InvalidIdentifier:
        return False


def is_valid_fnr(value: str, **options) -> bool:
    """A valid fødselsnummer (synthetic month + 80 and the 2032 rule included)."""
    return _is(value, ("FNR",), **options)


def is_valid_dnr(value: str, **options) -> bool:
    return _is(value, ("DNR",), **options)


def is_valid_hnr(value: str, **options) -> bool:
    return _is(value, ("HNR",), **options)


def is_valid_fhn(value: str, **options) -> bool:
    return _is(value, ("FHN",), **options)


def birth_date(value: str) -> dt.date | None:
    """The birth date a valid FNR, D-nummer or H-nummer encodes; None when it encodes none
    (FHN, 2032-rule numbers, unknown century). Raises InvalidIdentifier for invalid numbers."""
    return parse_person_number(value).birth_date


def gender(value: str) -> str | None:
    """`male` or `female` where the number encodes it (not FHN, not 2032-rule numbers)."""
    return parse_person_number(value).gender


def format_person_number(value: str) -> str:
    """Display form `DDMMYY IIIKK` (the form Skatteetaten prints)."""
    digits = compact(value)
    return digits[:6] + " " + digits[6:] if len(digits) == 11 else str(value)
