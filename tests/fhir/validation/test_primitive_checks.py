"""Primitive formats (datatypes.html#primitive): the spec's regexes and the calendar."""

from __future__ import annotations

import re

import pytest

from ehelse.fhir.definitions import load
from ehelse.fhir.jsoncodec import Number, loads
from ehelse.fhir.validation.primitives import CHECKERS, REGEX


def ok(code, value):
    return CHECKERS[code](value) is None


def test_regexes_are_the_ones_in_the_r4_definitions():
    generated = {name: d.get("regex") for name, d in load("structures")["types"].items()
                 if d["kind"] == "primitive-type"}
    for name, pattern in REGEX.items():
        assert generated[name] == pattern, name


@pytest.mark.parametrize("value", ["2020", "2020-02", "2020-02-29", "2000-02-29"])
def test_valid_dates(value):
    assert ok("date", value)


@pytest.mark.parametrize("value", ["2020-02-30", "2019-02-29", "1900-02-29", "2021-04-31", "2020-13",
                                   "20", "2020-1-01", "2020-02-03T10:00:00Z", ""])
def test_invalid_dates(value):
    assert not ok("date", value)


def test_impossible_date_message_says_why():
    assert "does not exist" in CHECKERS["date"]("2020-02-30")


@pytest.mark.parametrize("value", ["2020", "2020-02-01", "2020-02-01T10:00:00Z", "2020-02-01T10:00:00.123+01:00"])
def test_valid_datetimes(value):
    assert ok("dateTime", value)


@pytest.mark.parametrize("value", ["2020-02-01T10:00:00", "2020-02-01T10:00Z", "2020-02-30T10:00:00Z",
                                   "2020-02-01T24:00:00Z"])
def test_datetime_with_time_needs_a_zone_and_a_real_day(value):
    assert not ok("dateTime", value)


def test_instant_needs_full_precision_and_zone():
    assert ok("instant", "2015-02-07T13:28:17.239+02:00")
    assert not ok("instant", "2015-02-07T13:28:17")
    assert not ok("instant", "2015-02-07")


def test_time():
    assert ok("time", "13:28:17")
    assert not ok("time", "25:00:00")
    assert not ok("time", "13:28")


def test_booleans_are_json_booleans_only():
    assert ok("boolean", True)
    assert not ok("boolean", "true")
    assert not ok("boolean", 1)


def test_integers_are_32_bit_json_integers():
    assert ok("integer", -(2**31))
    assert ok("integer", 2**31 - 1)
    assert not ok("integer", 2**31)
    assert not ok("integer", 1.0)
    assert not ok("integer", True)
    assert not ok("integer", "1")
    assert not ok("positiveInt", 0)
    assert ok("unsignedInt", 0)
    assert not ok("unsignedInt", -1)


def test_decimals_are_checked_on_their_text():
    assert ok("decimal", loads("72.50"))
    assert ok("decimal", 3)
    assert ok("decimal", loads("1e3"))
    assert not ok("decimal", "72.5")
    assert not ok("decimal", True)
    assert isinstance(loads("72.50"), Number)


@pytest.mark.parametrize("code,good,bad", [
    ("id", "a-B.9", "has space"),
    ("id", "x" * 64, "x" * 65),
    ("code", "in-progress", " leading"),
    ("code", "two words", "double  space"),
    ("oid", "urn:oid:2.16.578.1", "urn:oid:abc"),
    ("uuid", "urn:uuid:c757873d-ec9a-4326-a141-556f43239520", "urn:uuid:C757873D-EC9A-4326-A141-556F43239520"),
    ("uri", "http://example.org/a", "has space"),
    ("base64Binary", "aGVsbG8=", "not base64!"),
    ("string", "x", ""),
    ("markdown", "# x", 12),
    ("xhtml", '<div xmlns="http://www.w3.org/1999/xhtml">x</div>', "plain text"),
])
def test_patterns(code, good, bad):
    assert ok(code, good)
    assert not ok(code, bad)


def test_a_string_may_not_exceed_1mb():
    assert not ok("string", "x" * (1024 * 1024 + 1))


def test_every_primitive_type_has_a_checker():
    primitives = {n for n, d in load("structures")["types"].items() if d["kind"] == "primitive-type"}
    assert primitives <= set(CHECKERS)
    assert re.fullmatch(REGEX["decimal"], "-0.5")


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ehelse.fhir.validation.primitives import FAST_REGEX  # noqa: E402

_date_like = st.from_regex(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?"
                           r"(Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?", fullmatch=True)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_date_like, st.sampled_from(["0000", "0000-01-01", "0001", "1000", "0100", "0010"])))
def test_fast_date_regexes_accept_exactly_what_the_spec_regexes_accept(text):
    for name, fast in FAST_REGEX.items():
        assert (re.fullmatch(fast, text) is None) == (re.fullmatch(REGEX[name], text) is None), (name, text)


def test_year_0000_is_not_a_year():
    assert not ok("date", "0000")
    assert ok("date", "0001")


def test_known_valid_values_are_remembered_but_invalid_ones_never():
    from ehelse.fhir.validation import primitives

    for _ in range(2):
        assert ok("code", "final")
        assert not ok("code", " final")
        assert not ok("date", "2021-02-29")
        assert not ok("code", 5)
    primitives.clear_known()
    assert ok("uri", "http://loinc.org") and not ok("uri", "http://lo inc.org")


def test_the_memory_of_valid_values_is_bounded(monkeypatch):
    from ehelse.fhir.validation import primitives

    monkeypatch.setattr(primitives, "_KNOWN_LIMIT", 10)
    for i in range(50):
        assert ok("uri", f"urn:x:{i}")
    assert len(primitives._known_uris) <= 10


def test_long_values_are_checked_but_not_remembered():
    """The known-valid sets (primitives, references, bindings) keep only values up to
    KNOWN_LENGTH characters, so a stream of large valid values cannot pin them in memory."""
    from ehelse.fhir.validation import primitives, references
    from ehelse.fhir.validation.model import model

    long_uri = "http://example.org/" + "a" * 10_000
    assert primitives.CHECKERS["uri"](long_uri) is None
    assert primitives.CHECKERS["uri"]("http://example.org/short") is None
    assert long_uri not in primitives._known_uris and "http://example.org/short" in primitives._known_uris
    long_reference = "http://example.org/fhir/Patient/" + "b" * 5_000
    assert references.parse(long_reference, model().resource_types)[0] is None
    assert long_reference not in references._KNOWN
