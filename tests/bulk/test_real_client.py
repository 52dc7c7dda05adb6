"""Bulk Data export driven by a real, maintained client: SMART's `smart-fetch` (PyPI,
github.com/smart-on-fhir/smart-fetch, the successor of the SMART bulk-data-client, which is
not on npm). It runs as a subprocess against our server (also a subprocess) and does what it
does against Epic or Oracle: reads `.well-known/smart-configuration`, gets a system token by
SMART Backend Services (client_credentials + private_key_jwt, backend-services.html) with a
key registered by our own client registry, kicks off `$export` with `Prefer: respond-async`,
polls the status URL (honouring Retry-After), reads the manifest, downloads every output and
`deleted` file with the token, and DELETEs the job when done (export.html, STU2).

Three flows: a full system export, a `_since` export that must give exactly the changed
resources and a `deleted` Bundle, and cancel (`smart-fetch bulk --cancel` of an interrupted
export, which sends DELETE to the status URL it saved).

The client is a dev dependency (pyproject `.[dev]`); under CI=true a missing client fails
the test rather than skipping it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import orjson
import pytest
from testsupport import copy_db

from bulk.conftest import Server, start_server, token

CLIENT_ID = "exporter"


def smart_fetch() -> str:
    beside = Path(sys.executable).parent / "smart-fetch"
    found = str(beside) if beside.exists() else shutil.which("smart-fetch")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("smart-fetch (SMART's Bulk Data client) is not installed: pip install -e '.[dev]'")
    pytest.skip("smart-fetch is not installed (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """An RS384 key pair: the private JWKS for smart-fetch (it wants kid, alg and
    key_ops=sign on the key it signs with), the public JWKS for our client registry."""
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, parameters={"kid": "smart-fetch-1"})
    private = {**key.as_dict(private=True), "alg": "RS384", "key_ops": ["sign"]}
    public = {k: v for k, v in key.as_dict(private=False).items() if k != "key_ops"}
    path = tmp_path_factory.mktemp("smart-fetch-key") / "private.jwks"
    path.write_text(json.dumps({"keys": [private]}))
    return path, {"keys": [{**public, "alg": "RS384"}]}


def register_backend_client(database_url: str, jwks: dict[str, Any]) -> None:
    from ehelse.oauth import clients
    from ehelse.oauth.store import store_for
    from ehelse.storage import open_repository

    repo = open_repository(database_url)
    try:
        clients.register(store_for(repo), name="smart-fetch", redirect_uris=[], client_id=CLIENT_ID,
                         scope="system/*.rs", auth_method="private_key_jwt", jwks=jwks)
    finally:
        repo.close()


def live_server(bulk_db: Path, folder: Path, jwks: dict[str, Any], **env: str) -> Server:
    path = copy_db(bulk_db, folder)
    register_backend_client(f"sqlite:///{path}", jwks)
    return start_server(f"sqlite:///{path}", folder / "export", **env)


@pytest.fixture(scope="module")
def server(bulk_db, client_key, tmp_path_factory) -> Iterator[Server]:
    live = live_server(bulk_db, tmp_path_factory.mktemp("real-client"), client_key[1])
    yield live
    live.stop()


def fetch(server: Server, key: Path, out: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """`smart-fetch bulk` as an operator would type it. --no-default-filters: without it the
    client narrows Observation to US Core categories; --no-compression: plain .ndjson."""
    command = [smart_fetch(), "bulk", "--fhir-url", server.fhir, "--smart-client-id", CLIENT_ID,
               "--smart-key", str(key), "--no-default-filters", "--no-compression", *args, str(out)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})


def log_events(out: Path) -> dict[str, list[dict[str, Any]]]:
    """The client's Bulk Data log (log.ndjson), by eventId."""
    events: dict[str, list[dict[str, Any]]] = {}
    for line in (out / "log.ndjson").read_text().splitlines():
        event = json.loads(line)
        events.setdefault(event["eventId"], []).append(event["eventDetail"])
    return events


def downloaded(folder: Path) -> dict[str, list[dict[str, Any]]]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.ndjson")):
        if path.name == "log.ndjson":
            continue
        rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line]
        by_type.setdefault(path.name.split(".")[0], []).extend(rows)
    return by_type


def job_id(status_url: str) -> str:
    return status_url.rstrip("/").rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def full_export(server, client_key, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("smart-fetch") / "full"
    result = fetch(server, client_key[0], out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def test_full_export_through_smart_fetch(server, repo, full_export):
    from ehelse.bulk.jobs import JobStore

    events = log_events(full_export)
    kickoff = events["kickoff"][0]
    assert kickoff["errorCode"] is None and "/$export" in kickoff["exportUrl"]
    requested = kickoff["requestParameters"]["_type"].split(",")
    assert "Patient" in requested and "Observation" in requested
    # The manifest's transactionTime reached the client.
    assert events["status_complete"][0]["transactionTime"].endswith("Z")

    # Every resource of every type the client asked for, nothing more, nothing twice.
    got = downloaded(full_export)
    for type in requested:
        stored = sorted(v.id for v in repo.iter_current(type))
        assert sorted(r["id"] for r in got.get(type, [])) == stored, type
        assert all(r["resourceType"] == type for r in got.get(type, []))
    assert set(got) <= set(requested)
    assert sum(map(len, got.values())) == events["export_complete"][0]["resources"] > 0

    # The job ran as the SMART backend client, and the client's DELETE after download
    # cancelled it (its files are gone on our side).
    job = JobStore(repo).get(job_id(kickoff["responseHeaders"]["content-location"]))
    assert job.owner["kind"] == "system" and job.owner["subject"] == CLIENT_ID
    assert job.status == "cancelled"


def test_since_export_through_smart_fetch(server, repo, client_key, full_export, tmp_path):
    """`smart-fetch bulk --since <transactionTime of the last export>` gets exactly what
    changed after it: the updated Observation in the output and the deleted Immunization as a
    DELETE entry in the manifest's `deleted` Bundle (export.html#bulk-data-delete-request)."""
    since = log_events(full_export)["status_complete"][0]["transactionTime"]
    before = downloaded(full_export)
    changed, removed = before["Observation"][0], before["Immunization"][0]
    admin = {"Authorization": f"Bearer {token(repo, 'admin')}"}
    changed = {k: v for k, v in changed.items() if k != "meta"} | {"status": "amended"}
    r = httpx.put(f"{server.fhir}/Observation/{changed['id']}", headers={**admin, "Content-Type": "application/fhir+json"},
                  content=orjson.dumps(changed), timeout=30)
    assert r.status_code == 200, r.text
    r = httpx.delete(f"{server.fhir}/Immunization/{removed['id']}", headers=admin, timeout=30)
    assert r.status_code in (200, 204), r.text

    out = tmp_path / "since"
    result = fetch(server, client_key[0], out, "--since", since)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert log_events(out)["kickoff"][0]["requestParameters"]["_since"] == since
    got = downloaded(out)
    assert list(got) == ["Observation"] and [r["id"] for r in got["Observation"]] == [changed["id"]]
    assert got["Observation"][0]["status"] == "amended"
    deleted = downloaded(out / "deleted")["Bundle"]
    assert [e["request"] for b in deleted for e in b["entry"]] == [
        {"method": "DELETE", "url": f"Immunization/{removed['id']}"}]


def test_cancel_through_smart_fetch(bulk_db, client_key, tmp_path):
    """An export interrupted while the server still works on it, then `smart-fetch bulk
    --cancel`: the client sends DELETE to the status URL it saved, and the job is cancelled
    (export.html#bulk-data-delete-request). The server runs without an export worker so the
    job is certain to be still waiting when the client is stopped, however busy the machine."""
    from ehelse.bulk.jobs import JobStore
    from ehelse.storage import open_repository

    live = live_server(bulk_db, tmp_path, client_key[1], EHELSE_EXPORT_WORKER="0")
    out = tmp_path / "cancelled"
    command = [smart_fetch(), "bulk", "--fhir-url", live.fhir, "--smart-client-id", CLIENT_ID,
               "--smart-key", str(client_key[0]), "--no-default-filters", str(out)]
    running = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        status_url = None
        deadline = time.monotonic() + 90
        while status_url is None and time.monotonic() < deadline and running.poll() is None:
            time.sleep(0.3)
            metadata = out / ".metadata"
            if metadata.exists():
                try:
                    status_url = json.loads(metadata.read_text()).get("bulk-status")
                except json.JSONDecodeError:
                    pass  # caught while the client rewrote it
        assert status_url, "smart-fetch never kicked off the export"
        # Still polling: the job is waiting for a worker.
        assert running.poll() is None
        running.terminate()
        running.wait(timeout=30)

        repo = open_repository(live.database_url)
        try:
            jobs = JobStore(repo)
            assert jobs.get(job_id(status_url)).status == "accepted"
            result = subprocess.run([*command[:2], "--cancel", *command[2:]], capture_output=True, text=True,
                                    timeout=120)
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
            assert jobs.get(job_id(status_url)).status == "cancelled"
            # The owner's own token now gets 404 on the status URL (export.html: a cancelled
            # request's status is not found).
            bearer = token(repo, f"system:{CLIENT_ID}", scope="system/*.rs")
            assert httpx.get(status_url, headers={"Authorization": f"Bearer {bearer}"}, timeout=30).status_code == 404
        finally:
            repo.close()
    finally:
        if running.poll() is None:
            running.kill()
        live.stop()
