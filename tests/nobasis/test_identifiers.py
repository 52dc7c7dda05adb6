"""Norwegian person numbers and registry numbers: check digits, what they encode, formatting."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from ehelse.nobasis.identifiers import (
    InvalidIdentifier, birth_date, format_orgnr, format_person_number, gender, is_valid_dnr, is_valid_fhn,
    is_valid_fnr, is_valid_her, is_valid_hnr, is_valid_hpr, is_valid_orgnr, is_valid_resh, parse_person_number,
    synthetic_dnr, synthetic_fhn, synthetic_fnr, synthetic_hpr, synthetic_orgnr, validate, validate_orgnr,
)
from ehelse.nobasis.identifiers.personal import check_digits

# DOMAIN.md: valid test values; 30108299939 only under the 2032 rule.
VALID_FNRS = ["13116900216", "31129956715", "02013299997"]
FNR_2032 = "30108299939"


@pytest.mark.parametrize("value", VALID_FNRS)
def test_domain_test_values_are_valid(value):
    assert is_valid_fnr(value)
    number = parse_person_number(value)
    assert number.kind == "FNR" and not number.rule_2032 and not number.synthetic


def test_birth_date_and_gender_from_fnr():
    assert birth_date("13116900216") == dt.date(1969, 11, 13)
    assert gender("13116900216") == "female"  # individual digit 9: 002 -> even
    assert birth_date("31129956715") == dt.date(1899, 12, 31)  # 567 with year 99: the 1800s series
    assert gender("31129956715") == "male"
    assert birth_date("02013299997") == dt.date(2032, 1, 2)  # 999 with year 32: the 2000s series


def test_2032_rule_accepted_by_default_without_gender_or_century():
    number = parse_person_number(FNR_2032)
    assert number.rule_2032
    assert number.birth_date is None and number.gender is None
    assert is_valid_fnr(FNR_2032)


def test_2032_number_rejected_under_the_classic_rule_only():
    assert not is_valid_fnr(FNR_2032, allow_2032=False)
    with pytest.raises(InvalidIdentifier, match="k1"):
        parse_person_number(FNR_2032, allow_2032=False)
    for value in VALID_FNRS:  # the classic numbers stay valid without the 2032 rule
        assert is_valid_fnr(value, allow_2032=False)


def test_2032_rule_does_not_widen_k2():
    # change the last digit of the 2032 number: k2 fails whatever the k1 rule
    assert not is_valid_fnr(FNR_2032[:-1] + "0")


@pytest.mark.parametrize("value", ["13116900217", "13116900226", "31129956714", "02013299996"])
def test_wrong_check_digits(value):
    assert not is_valid_fnr(value)
    with pytest.raises(InvalidIdentifier, match="check digits"):
        parse_person_number(value)


@pytest.mark.parametrize("value, reason", [
    ("1311690021", "10 digits"), ("131169002160", "12 digits"), ("1311690021A", "digits only"),
    ("210377xxxxx", "digits only"), ("", "empty"),
])
def test_wrong_length_and_letters(value, reason):
    with pytest.raises(InvalidIdentifier, match=reason):
        parse_person_number(value)


def test_separators_are_accepted_and_formatting():
    assert is_valid_fnr("131169 00216") and is_valid_fnr("131169-00216")
    assert format_person_number("13116900216") == "131169 00216"


def test_invalid_date_rejected_even_with_good_check_digits():
    # 32 November: build valid check digits for a date that does not exist
    first9 = "321169002"
    k1, k2 = check_digits(first9)
    if k1 is None or k2 is None:  # pragma: no cover - this prefix happens to work
        pytest.skip("no check digits for this prefix")
    with pytest.raises(InvalidIdentifier, match="valid date"):
        parse_person_number(f"{first9}{k1}{k2}")


def test_synthetic_fnr_month_plus_80():
    rng = random.Random(7)
    for born, sex in [(dt.date(2016, 5, 3), "female"), (dt.date(1944, 12, 31), "male"),
                      (dt.date(1999, 2, 28), "male"), (dt.date(2000, 2, 29), "female")]:
        value = synthetic_fnr(born, sex, rng)
        assert int(value[2:4]) == born.month + 80
        number = parse_person_number(value)
        assert (number.kind, number.synthetic, number.birth_date, number.gender) == ("FNR", True, born, sex)


def test_synthetic_numbers_are_deterministic():
    a = [synthetic_fnr(dt.date(1980, 1, 1), "male", random.Random(3)) for _ in range(2)]
    assert a[0] == a[1]
    rng1, rng2 = random.Random(9), random.Random(9)
    assert [synthetic_orgnr(rng1) for _ in range(5)] == [synthetic_orgnr(rng2) for _ in range(5)]


def test_dnr_day_plus_40():
    value = synthetic_dnr(dt.date(1985, 7, 14), "male", random.Random(1))
    assert value[:2] == "54"
    number = parse_person_number(value)
    assert number.kind == "DNR" and number.birth_date == dt.date(1985, 7, 14) and number.gender == "male"
    assert is_valid_dnr(value) and not is_valid_fnr(value)


def test_hnr_month_plus_40():
    first9 = "134569002"  # 13 May (05 + 40) 1969
    k1, k2 = check_digits(first9)
    assert k1 is not None and k2 is not None
    value = f"{first9}{k1}{k2}"
    number = parse_person_number(value)
    assert number.kind == "HNR" and number.birth_date == dt.date(1969, 5, 13)
    assert is_valid_hnr(value) and not is_valid_fnr(value)


def test_fhn_starts_with_8_or_9_and_encodes_nothing():
    for _ in range(20):
        value = synthetic_fhn(random.Random(_))
        assert value[0] in "89"
        number = parse_person_number(value)
        assert number.kind == "FHN" and number.birth_date is None and number.gender is None
        assert is_valid_fhn(value)
    bad = value[:-1] + str((int(value[-1]) + 1) % 10)
    assert not is_valid_fhn(bad)


def test_validate_names_the_wrong_kind():
    value = synthetic_dnr(dt.date(1985, 7, 14), "female", random.Random(2))
    with pytest.raises(InvalidIdentifier, match="D-nummer, not a fødselsnummer"):
        validate(value, ("FNR",))


def test_orgnr():
    assert is_valid_orgnr("915933149")  # Direktoratet for e-helse (no-basis example)
    assert is_valid_orgnr("915 933 149")
    assert not is_valid_orgnr("915933148")
    assert format_orgnr("915933149") == "915 933 149"
    with pytest.raises(InvalidIdentifier, match="not 9"):
        validate_orgnr("91593314")
    with pytest.raises(InvalidIdentifier, match="digits only"):
        validate_orgnr("91593314X")
    rng = random.Random(5)
    assert all(is_valid_orgnr(synthetic_orgnr(rng)) for _ in range(50))


def test_orgnr_remainder_1_is_never_valid():
    # eight digits whose weighted sum leaves remainder 1: no ninth digit can make it valid
    first8 = next(f"{n:08d}" for n in range(10_000_000, 10_100_000)
                  if sum(w * int(d) for w, d in zip((3, 2, 7, 6, 5, 4, 3, 2), f"{n:08d}")) % 11 == 1)
    assert not any(is_valid_orgnr(first8 + str(d)) for d in range(10))


def test_hpr_resh_her_forms():
    assert is_valid_hpr("9144889")  # the no-basis Practitioner example
    assert is_valid_hpr(synthetic_hpr(random.Random(1)))
    assert not is_valid_hpr("12345") and not is_valid_hpr("1234567890") and not is_valid_hpr("91448A9")
    assert is_valid_resh("4001031") and not is_valid_resh("0401") and not is_valid_resh("")
    assert is_valid_her("8093") and not is_valid_her("12x")
