"""Fast checks of the benchmark's own pieces: percentiles, the HTTP client, the CRUD seeds."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `bench`

from bench import loadgen  # noqa: E402
from bench.crud_seeds import LINKS, ORDER, SEEDS, changed, linked  # noqa: E402


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert loadgen.percentile(values, 0.50) == 50.0
    assert loadgen.percentile(values, 0.95) == 95.0
    assert loadgen.percentile(values, 0.99) == 99.0
    assert loadgen.percentile([7.0], 0.99) == 7.0
    assert loadgen.percentile([], 0.5) == 0.0


def test_recorder_summarises_per_kind_and_counts_errors():
    recorder = loadgen.LatencyRecorder()
    for ms in (1, 2, 3, 4):
        recorder.record("read", ms / 1000)
    recorder.record("create", 0.010, ok=False)
    summary = recorder.summary(duration=1.0)
    assert summary["read"]["count"] == 4 and summary["read"]["errors"] == 0
    assert summary["create"]["errors"] == 1
    assert summary["all"]["count"] == 5 and summary["all"]["errors"] == 1
    assert summary["all"]["ops_per_s"] == 5.0
    assert summary["read"]["p50_ms"] == 2.0


async def _serve_once(responses: list[bytes]) -> tuple[asyncio.AbstractServer, list[bytes]]:
    """A server that answers each request on a connection with the next canned response."""
    seen: list[bytes] = []

    async def handle(reader, writer):
        for canned in responses:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            seen.append(head + await reader.readexactly(length))
            writer.write(canned)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, seen


def test_connection_reads_sized_and_chunked_responses_on_one_connection():
    async def scenario():
        server, seen = await _serve_once([
            b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nLocation: /fhir/Patient/7/_history/1\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        ])
        port = server.sockets[0].getsockname()[1]
        connection = loadgen.Connection(f"http://127.0.0.1:{port}/fhir",
                                        default_headers={"Authorization": "Bearer t"})
        first = await connection.request("POST", "/Patient", b'{"a":1}')
        second = await connection.request("GET", "/Patient/7")
        await connection.close()
        server.close()
        await server.wait_closed()
        return first, second, seen

    first, second, seen = asyncio.run(scenario())
    assert (first.status, first.body, first.headers["location"]) == (201, b"{}", "/fhir/Patient/7/_history/1")
    assert (second.status, second.body) == (200, b"abcde")
    assert seen[0].startswith(b"POST /fhir/Patient HTTP/1.1\r\n")
    assert b"Authorization: Bearer t\r\n" in seen[0] and seen[0].endswith(b'{"a":1}')
    assert seen[1].startswith(b"GET /fhir/Patient/7 HTTP/1.1\r\n")


def test_crud_seeds_link_every_reference_to_an_earlier_resource():
    ids = {type: f"id-{type}" for type in ORDER}
    for position, type in enumerate(ORDER):
        resource = linked(type, ids)
        assert "/?" not in repr(resource), f"{type} has an unset reference"
        assert resource is not SEEDS[type]
    for source, _, target in LINKS:
        assert ORDER.index(target) < ORDER.index(source), (source, target)
    encounter = linked("Encounter", ids)
    assert encounter["subject"]["reference"] == "Patient/id-Patient"
    assert encounter["location"][0]["location"]["reference"] == "Location/id-Location"


@pytest.mark.parametrize("type", ORDER)
def test_crud_update_changes_the_resource(type):
    resource = linked(type, {t: "x" for t in ORDER})
    before = repr(resource)
    assert repr(changed(resource)) != before
