"""bench/machine.py: the machine's yardsticks that every full report carries."""

from __future__ import annotations

import pytest

from bench import machine, wrk


def test_python_speed_is_a_positive_time_that_grows_with_the_work(monkeypatch):
    one = machine.python_speed_ms(rounds=1)
    assert 0 < one < 60_000
    calls = []
    monkeypatch.setattr(machine, "_workload", lambda: calls.append(1))
    machine.python_speed_ms(rounds=3)
    assert len(calls) == 3  # best of `rounds` passes


@pytest.mark.skipif(wrk.wrk_path() is None, reason="wrk is not installed (make bench installs it)")
def test_bare_granian_serves_and_is_measured_against_the_issue_machine():
    figures = machine.bare_granian(seconds=1)
    assert figures is not None and figures["requests_per_s"] > 100
    assert figures["ratio_to_issue_machine"] == round(figures["requests_per_s"] / 49_400, 2)
