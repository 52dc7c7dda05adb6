"""Fixtures for the analytics tests: one SparkSession per test session (it costs seconds)."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (OpenJDK 17)")
    from ehelse.analytics.engines import spark as engine

    session = engine.session("local[1]")
    yield session
    engine.stop()
