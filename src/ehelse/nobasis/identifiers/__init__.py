"""Norwegian identifiers: validation with check digits, what a number encodes, display
formatting, the write-time resource check and synthetic numbers for the seed.

    personal.py    FNR, D-nummer, H-nummer, felles hjelpenummer (two mod-11 check digits)
    registries.py  organisasjonsnummer (mod 11), HPR-nummer, RESH-id, HER-id
    resource.py    check_resource_identifiers(resource) -> list[Issue], called on write
    synthetic.py   synthetic_fnr / _dnr / _fhn / _orgnr / _hpr / _resh / _her for the seed

The systems (OID and HL7 Norway URI forms) are in ehelse.nobasis.naming.
"""

from ehelse.nobasis.identifiers.personal import (
    InvalidIdentifier, PersonNumber, birth_date, format_person_number, gender, is_valid_dnr, is_valid_fhn,
    is_valid_fnr, is_valid_hnr, parse_person_number, validate,
)
from ehelse.nobasis.identifiers.registries import (
    format_orgnr, is_valid_her, is_valid_hpr, is_valid_orgnr, is_valid_resh, validate_her, validate_hpr,
    validate_orgnr, validate_resh,
)
from ehelse.nobasis.identifiers.resource import check_identifier, check_resource_identifiers
from ehelse.nobasis.identifiers.synthetic import (
    synthetic_dnr, synthetic_fhn, synthetic_fnr, synthetic_her, synthetic_hpr, synthetic_orgnr, synthetic_resh,
)

__all__ = [
    "InvalidIdentifier", "PersonNumber", "birth_date", "check_identifier", "check_resource_identifiers",
    "format_orgnr", "format_person_number", "gender", "is_valid_dnr", "is_valid_fhn", "is_valid_fnr",
    "is_valid_her", "is_valid_hnr", "is_valid_hpr", "is_valid_orgnr", "is_valid_resh", "parse_person_number",
    "synthetic_dnr", "synthetic_fhn", "synthetic_fnr", "synthetic_her", "synthetic_hpr", "synthetic_orgnr",
    "synthetic_resh", "validate", "validate_her", "validate_hpr", "validate_orgnr", "validate_resh",
]
