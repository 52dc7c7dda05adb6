"""Helpers the seed tests import by name (a unique module name: several test folders have a
conftest.py, and `from conftest import ...` would find whichever was imported first)."""

from __future__ import annotations

from datetime import date

from ehelse.nobasis.seed import generate

REFERENCE_DATE = date(2026, 11, 27)


def population(patients: int, seed: int, reference_date: date = REFERENCE_DATE) -> list[dict]:
    return [resource for chunk, _ in generate(patients, seed, reference_date) for resource in chunk]


def by_type(resources: list[dict], type: str) -> list[dict]:
    return [r for r in resources if r["resourceType"] == type]


def index(resources: list[dict]) -> dict[str, dict]:
    return {f"{r['resourceType']}/{r['id']}": r for r in resources}
