"""Shared, generated-once populations for the seed tests (kept small so the tests are fast)."""

from __future__ import annotations

from datetime import date

import pytest

from ehelse.nobasis.seed import generate

REFERENCE_DATE = date(2026, 11, 27)


def population(patients: int, seed: int, reference_date: date = REFERENCE_DATE) -> list[dict]:
    return [resource for chunk, _ in generate(patients, seed, reference_date) for resource in chunk]


@pytest.fixture(scope="session")
def seeded() -> list[dict]:
    """50 patients, seed 1: the cast plus 40 generated people."""
    return population(50, 1)


@pytest.fixture(scope="session")
def larger() -> list[dict]:
    """200 patients, seed 7: enough households for the distributions to show."""
    return population(200, 7)


def by_type(resources: list[dict], type: str) -> list[dict]:
    return [r for r in resources if r["resourceType"] == type]


def index(resources: list[dict]) -> dict[str, dict]:
    return {f"{r['resourceType']}/{r['id']}": r for r in resources}
