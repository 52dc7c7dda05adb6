"""bench/search_bench.py's over-HTTP figure: the paths wrk sends, and which PostgreSQL
connections the server-side CPU meters count (unit tests: no server, no database)."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from bench import search_bench


def test_http_path_round_trips_operations_pipes_and_commas():
    request = ("Patient/p1/$everything", [("_count", "200")])
    assert search_bench.http_path(request) == "/fhir/Patient/p1/$everything?_count=200"
    query = [("identifier", "urn:oid:2.16.578.1.12.4.1.4.1|01017012345"), ("_type", "Observation,Condition"),
             ("_has:Encounter:patient:_id", "e 1"), ("family", "Ødegård")]
    sent = urlsplit(search_bench.http_path(("Patient", query)))
    assert unquote(sent.path) == "/fhir/Patient"
    assert parse_qsl(sent.query, keep_blank_values=True) == query  # as the server reads it (web/fhir.py _query)


class _Stop(Exception):
    pass


def test_the_http_server_is_not_counted_by_the_one_client_meter(monkeypatch):
    """ServerCpu counts the PostgreSQL backends whose application_name is its own; the
    `ehelse serve` of the HTTP figure must not connect under the one-client meter's name,
    or its backends' CPU (the bulk export worker's poll every second in each server
    process, its audit commits) is charged to the in-process searches."""
    seen: dict[str, str] = {}

    class Repo:
        def upgrade(self):
            return False

        def close(self):
            pass

    def http_server(url):
        seen["url"] = url
        raise _Stop

    monkeypatch.setattr("ehelse.storage.open_repository", lambda url, **_: Repo())
    monkeypatch.setattr(search_bench, "samples", lambda repo, count, rng: [])
    monkeypatch.setattr(search_bench, "HttpServer", http_server)
    with pytest.raises(_Stop):
        search_bench.run_backend("postgres", "postgresql://bench@127.0.0.1:5432/test", 30, 10,
                                 random.Random(1), processes=0, http_seconds=1.0)
    meter = f"application_name=ehelse-search-bench-{search_bench.os.getpid()}"
    assert seen["url"].startswith("postgresql://bench@127.0.0.1:5432/test")
    assert not any(p == meter for p in urlsplit(seen["url"]).query.split("&")), seen["url"]
