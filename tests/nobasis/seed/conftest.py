"""Populations generated once per session for the seed tests (kept small so they are fast)."""

from __future__ import annotations

import pytest
from seedsupport import population


@pytest.fixture(scope="session")
def seeded() -> list[dict]:
    """50 patients, seed 1: the cast plus 40 generated people."""
    return population(50, 1)


@pytest.fixture(scope="session")
def larger() -> list[dict]:
    """200 patients, seed 7: enough households for the distributions to show."""
    return population(200, 7)
