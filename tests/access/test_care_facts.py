"""access/care.py CareFacts: the per-process cache of care sets and other access facts.
A stale value is made again in the background while requests keep the previous one (no
request waits for a GP's care set); concurrent misses make a value once; a value made while
a write dropped the cache is not kept."""

from __future__ import annotations

import threading
import time

import pytest

from ehelse.access import care
from ehelse.access.care import CareFacts


@pytest.fixture
def ttl(monkeypatch):
    monkeypatch.setattr(care, "FACTS_TTL", 0.2)
    return 0.2


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_stale_value_is_kept_while_it_is_made_again_in_the_background(ttl):
    facts, made, release = CareFacts(), [], threading.Event()

    def make():
        made.append(threading.current_thread().name)
        if len(made) > 1:
            release.wait(5)
        return len(made)

    assert facts.get(("care", "gp"), make) == 1
    time.sleep(ttl * 1.2)  # stale, within 2 x TTL
    assert facts.get(("care", "gp"), make) == 1  # the old value at once; the new one is being made
    wait_for(lambda: len(made) == 2)
    assert made[1].startswith("access-facts")  # not the request's thread
    assert facts.get(("care", "gp"), make) == 1  # one refresh at a time
    release.set()
    wait_for(lambda: facts.get(("care", "gp"), make) == 2)
    assert len(made) == 2


def test_without_a_value_concurrent_requests_make_it_once():
    facts, made, start = CareFacts(), [], threading.Barrier(8)

    def make():
        made.append(1)
        time.sleep(0.05)
        return "set"

    results = []

    def request():
        start.wait()
        results.append(facts.get(("care", "gp"), make))

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["set"] * 8
    assert len(made) == 1


def test_a_value_older_than_twice_the_ttl_is_made_by_the_request(ttl):
    facts, values = CareFacts(), iter([1, 2])
    assert facts.get(("k",), lambda: next(values)) == 1
    time.sleep(ttl * 2.2)
    assert facts.get(("k",), lambda: next(values)) == 2


def test_a_value_made_while_a_write_dropped_the_cache_is_not_kept():
    facts, calls = CareFacts(), []

    def make():
        calls.append(1)
        if len(calls) == 1:
            facts.changed("Consent")  # a block written while the set was being made
        return len(calls)

    assert facts.get(("blocked", "gp"), make) == 1  # the caller gets what it made
    assert facts.get(("blocked", "gp"), make) == 2  # but it was not kept
    assert facts.get(("blocked", "gp"), make) == 2
