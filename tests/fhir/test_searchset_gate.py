"""fhir/searchset.py's search gate: `search_concurrency` searches at a time per process, the
rest in line; not on an event loop, not inside a batch or transaction Bundle (which holds
the write lock a waiting search's audit record may need)."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from ehelse import gate as gate_module
from ehelse.fhir import searchset
from ehelse.storage import open_repository
from router_client import RouterClient


@pytest.fixture
def one_slot(monkeypatch, tmp_path):
    """A fresh process gate of one slot, and a client on an SQLite repository."""
    monkeypatch.setattr(searchset, "_GATE", None)
    monkeypatch.setattr(gate_module, "OVERFLOW_SECONDS", 30.0)  # a wait must not end by overflow here
    repo = open_repository(f"sqlite:///{tmp_path / 'gate.sqlite'}")
    client = RouterClient(repo, search_concurrency=1)
    client.put("Patient/p", {"resourceType": "Patient", "id": "p", "name": [{"family": "Lund"}]})
    gate = searchset.search_gate(client.settings)
    yield client, gate
    repo.close()


def _wait_for(condition, seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.001)


def test_the_gate_is_sized_by_the_setting_or_the_cpus(monkeypatch):
    from ehelse.settings import Settings

    monkeypatch.setattr(searchset, "_GATE", None)
    assert searchset.search_gate(Settings.from_env({}, search_concurrency=3)).slots == 3
    monkeypatch.setattr(searchset, "_GATE", None)
    assert searchset.search_gate(Settings.from_env({})).slots == max(2, os.cpu_count() or 2)
    monkeypatch.setattr(searchset, "_GATE", (-1, searchset._GATE[1]))  # as if made before a fork
    assert searchset.search_gate(Settings.from_env({}, search_concurrency=5)).slots == 5


def test_a_search_waits_in_line_for_a_slot(one_slot):
    client, gate = one_slot
    done: list[int] = []
    assert gate.enter()  # the one slot is taken

    def search() -> None:
        done.append(client.get("Patient", query=[("family", "Lund")]).status)

    t = threading.Thread(target=search)
    t.start()
    _wait_for(lambda: len(gate._waiters) == 1)
    assert done == []
    gate.leave()
    t.join(10)
    assert done == [200] and gate._free == 1 and gate.overflows == 0


def test_searches_in_a_bundle_and_on_an_event_loop_do_not_wait(one_slot):
    client, gate = one_slot
    assert gate.enter()  # held for the whole test: a search that waited would time out
    try:
        for kind in ("batch", "transaction"):
            bundle = {"resourceType": "Bundle", "type": kind,
                      "entry": [{"request": {"method": "GET", "url": "Patient?family=Lund"}}]}
            response = client.post("", bundle)
            assert response.status == 200, response.parsed()
            assert response.parsed()["entry"][0]["response"]["status"].startswith("200")

        async def on_the_loop() -> int:
            return client.get("Patient", query=[("family", "Lund")]).status

        assert asyncio.run(on_the_loop()) == 200
        assert not gate._waiters and gate.overflows == 0
    finally:
        gate.leave()
