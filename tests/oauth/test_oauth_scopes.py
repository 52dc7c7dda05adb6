"""SMART scopes (scopes-and-launch-context.html): v2 and v1 forms, coverage, and the page
texts being complete in both languages."""

from __future__ import annotations

import pytest

from ehelse.oauth import scopes
from ehelse.oauth.i18n import TEXTS


@pytest.mark.parametrize("v1, v2", [("patient/*.read", "patient/*.rs"), ("user/Observation.write", "user/Observation.cud"),
                                    ("system/*.*", "system/*.cruds")])
def test_v1_mapped_to_v2(v1, v2):
    assert scopes.normalise(v1) == v2


@pytest.mark.parametrize("requested, allowed, missing", [
    ("patient/Observation.rs", "patient/*.rs", []),
    ("patient/Observation.r", "patient/Observation.rs", []),
    ("patient/Observation.rs", "patient/Observation.r", ["patient/Observation.rs"]),
    ("user/*.rs", "patient/*.rs", ["user/*.rs"]),
    ("patient/*.rs", "patient/Observation.rs", ["patient/*.rs"]),
    ("openid fhirUser", "openid", ["fhirUser"]),
    ("patient/Observation.rs?category=laboratory", "patient/Observation.rs", []),
    ("patient/Observation.rs", "patient/Observation.rs?category=laboratory", ["patient/Observation.rs"]),
    ("patient/*.read", "patient/*.rs", []),
])
def test_coverage(requested, allowed, missing):
    assert scopes.covered(requested, allowed) == missing


@pytest.mark.parametrize("bad", ["patient/Observation.sr", "patient/Observation.rr", "patient/Nonsense.rs",
                                 "clinic/*.rs", "admin", "patient/*.x"])
def test_malformed_scopes_rejected(bad):
    with pytest.raises(scopes.ScopeError):
        scopes.parse(bad)


def test_contexts():
    assert scopes.contexts("openid patient/*.rs user/Observation.r") == {"patient", "user"}


def test_both_languages_have_every_text():
    assert TEXTS["nb"].keys() == TEXTS["en"].keys()
