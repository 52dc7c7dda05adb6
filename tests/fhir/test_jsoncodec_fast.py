"""jsoncodec.loads's orjson fast path gives exactly what the exact-decimal decoder gives:
same values (float vs Number, int vs Number), same errors, same depth limit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ehelse.errors import BadRequest
from ehelse.fhir import jsoncodec


def exact(text: str, max_depth: int = 64):
    """The decoder without the fast path (the reference)."""
    if jsoncodec._too_deep(text, max_depth):
        raise BadRequest("too deep")
    try:
        return jsoncodec._decoder.decode(text)
    except (ValueError, RecursionError):
        raise BadRequest("malformed") from None


def same(a, b) -> bool:
    """Equal and of the same types all the way down (1 == 1.0 == True is not good enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a:
        return b != b
    return a == b


digits = st.text("0123456789", min_size=1, max_size=20)
number_texts = st.one_of(
    st.builds(lambda s, i: s + (i.lstrip("0") or "0"), st.sampled_from(["", "-"]), digits),
    st.builds(lambda s, i, f: s + (i.lstrip("0") or "0") + "." + f, st.sampled_from(["", "-"]), digits, digits),
    st.builds(lambda m, e, x: m + e + x, st.sampled_from(["1", "1.5", "-2.50", "0"]),
              st.sampled_from(["e", "E", "e+", "e-"]), st.text("0123456789", min_size=1, max_size=3)),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["0.00001", "0.0001", "1.0", "100", "9007199254740993", "18446744073709551616",
                     "72.50", "1e400", "-0", "-0.0", "01", "1.", ".5"]),
)
strings = st.text(max_size=8).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"')
scalars = st.one_of(number_texts, strings, st.sampled_from(["true", "false", "null", "NaN", '"\\ud800"', '"a\\u00e5"']))
ws = st.sampled_from(["", " ", "\n", "\t "])
json_texts = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(st.tuples(strings, ws, inner), max_size=4).map(
            lambda kvs: "{" + ",".join(f"{k}:{w}{v}" for k, w, v in kvs) + "}")),
    max_leaves=12)


def outcome(fn, text, **kw):
    try:
        return ("ok", fn(text, **kw))
    except BadRequest:
        return ("error", None)


@settings(max_examples=600, deadline=None)
@given(text=json_texts, lead=ws, trail=ws)
def test_fast_path_matches_the_exact_decoder(text, lead, trail):
    text = lead + text + trail
    got, want = outcome(jsoncodec.loads, text), outcome(exact, text)
    assert got[0] == want[0], text
    assert same(got[1], want[1]), text


@pytest.mark.parametrize("depth", [1, 63, 64, 65, 200, 1100])
def test_depth_limit_is_the_same(depth):
    text = "[" * depth + "1" + "]" * depth
    assert outcome(jsoncodec.loads, text)[0] == outcome(exact, text)[0]
    nested = '{"a":' * depth + "1" + "}" * depth
    assert outcome(jsoncodec.loads, nested)[0] == ("ok" if depth <= 64 else "error")


def test_numbers_that_floats_lose_stay_exact():
    assert jsoncodec.loads(b'{"v": 72.50, "w": 1e3, "x": 0.00001, "y": 1.5}') == {
        "v": jsoncodec.Number("72.50"), "w": jsoncodec.Number("1e3"), "x": jsoncodec.Number("0.00001"), "y": 1.5}
