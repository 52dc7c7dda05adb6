"""per-1's text comparison (invariants._period_as_text) agrees with the compiled FHIRPath."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ehelse.fhir.validation import fhirpath_compile, invariants

_RULE = fhirpath_compile.compile_expression(
    next(c.expression for c in invariants.constraints() if c.key == "per-1"))
_FAST = invariants._period_as_text(_RULE)

zones = st.sampled_from(["Z", "+01:00", "-05:00", "+00:00", "+14:00"])
date_times = st.builds(
    lambda y, mo, d, h, mi, s, z, shape: (
        f"{y:04d}-{mo:02d}-{d:02d}" if shape == "date" else f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{z}"),
    st.integers(1990, 1991), st.integers(1, 2), st.integers(1, 3), st.integers(0, 23),
    st.integers(0, 59), st.integers(0, 59), zones, st.sampled_from(["date", "dateTime", "dateTime"]))


@settings(max_examples=400, deadline=None)
@given(start=st.none() | date_times, end=st.none() | date_times)
def test_fast_path_gives_the_compiled_answer(start, end):
    period = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    assert _FAST(period, {}) == _RULE(period, {})


def test_fast_path_decides_the_common_shapes():
    assert _FAST({"start": "2010-03-20T04:22:36-04:00", "end": "2010-03-20T04:37:36-04:00"}, {}) is True
    assert _FAST({"start": "2010-03-20T04:37:36-04:00", "end": "2010-03-20T04:22:36-04:00"}, {}) is False
    assert _FAST({"start": "2010-03-21", "end": "2010-03-20"}, {}) is False
    # different zones: the compiled rule converts to UTC (05:00Z is after 04:30+01:00 = 03:30Z)
    assert _FAST({"start": "2010-03-20T05:00:00Z", "end": "2010-03-20T04:30:00+01:00"}, {}) is False
