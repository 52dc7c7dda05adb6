"""Numbers from the national registries: organisasjonsnummer, RESH-id, HER-id, HPR-nummer.

- Organisasjonsnummer (Enhetsregisteret, Brønnøysund): 9 digits, the last a mod-11 check
  digit with weights 3,2,7,6,5,4,3,2; a remainder that would give 10 is never issued
  (https://www.brreg.no/om-oss/registrene-vare/om-enhetsregisteret/organisasjonsnummeret/).
  python-stdnum's `stdnum.no.orgnr` implements exactly that; we wrap it.
- HPR-nummer (Helsepersonellregisteret): assigned in sequence, 7 to 9 digits today; no check
  digit is published, so we check the form only.
- RESH-id (Register for enheter i spesialisthelsetjenesten, NHN) and HER-id (NHN's
  Adresseregisteret): positive integers assigned in sequence, no check digit.
"""

from __future__ import annotations

from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength
from stdnum.no import orgnr as _stdnum_orgnr

from ehelse.nobasis.identifiers.personal import InvalidIdentifier

ORGNR_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)


def _digits(value: str, what: str) -> str:
    digits = str(value).replace(" ", "").replace("-", "")
    if not digits:
        raise InvalidIdentifier(f"empty {what}")
    if not digits.isdigit():
        raise InvalidIdentifier(f"{what} {value!r} must contain digits only")
    return digits


def orgnr_check_digit(first8: str) -> int | None:
    """The check digit for eight digits, or None when the rule gives 10 (never issued)."""
    k = (11 - sum(w * int(d) for w, d in zip(ORGNR_WEIGHTS, first8)) % 11) % 11
    return None if k == 10 else k


def validate_orgnr(value: str) -> str:
    """The compact 9-digit number, or InvalidIdentifier saying why."""
    digits = _digits(value, "organisasjonsnummer")
    try:
        return _stdnum_orgnr.validate(digits)
    except InvalidLength:
        raise InvalidIdentifier(f"organisasjonsnummer {value!r} has {len(digits)} digits, not 9") from None
    except InvalidChecksum:
        raise InvalidIdentifier(f"organisasjonsnummer {digits} fails its check digit") from None
    except InvalidFormat:
        raise InvalidIdentifier(f"organisasjonsnummer {value!r} must contain digits only") from None


def is_valid_orgnr(value: str) -> bool:
    try:
        validate_orgnr(value)
        return True
    except InvalidIdentifier:
        return False


def format_orgnr(value: str) -> str:
    """Display form `123 456 789`."""
    digits = str(value).replace(" ", "")
    return _stdnum_orgnr.format(digits) if len(digits) == 9 and digits.isdigit() else str(value)


def _sequence_number(value: str, what: str, min_len: int, max_len: int) -> str:
    digits = _digits(value, what)
    if not min_len <= len(digits) <= max_len:
        raise InvalidIdentifier(f"{what} {value!r} has {len(digits)} digits, not {min_len} to {max_len}")
    if digits[0] == "0":
        raise InvalidIdentifier(f"{what} {value!r} starts with 0")
    return digits


def validate_hpr(value: str) -> str:
    """An HPR-nummer: 7 to 9 digits (no published check digit)."""
    return _sequence_number(value, "HPR-nummer", 7, 9)


def validate_resh(value: str) -> str:
    """A RESH-id: a positive integer of up to 9 digits (no check digit)."""
    return _sequence_number(value, "RESH-id", 1, 9)


def validate_her(value: str) -> str:
    """A HER-id: a positive integer of up to 9 digits (no check digit)."""
    return _sequence_number(value, "HER-id", 1, 9)


def _is(check, value: str) -> bool:
    try:
        check(value)
        return True
    except InvalidIdentifier:
        return False


def is_valid_hpr(value: str) -> bool:
    return _is(validate_hpr, value)


def is_valid_resh(value: str) -> bool:
    return _is(validate_resh, value)


def is_valid_her(value: str) -> bool:
    return _is(validate_her, value)
