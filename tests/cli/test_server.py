"""`ehelse serve` as a real process: it starts, serves FHIR with a token from `ehelse token`,
logs JSON lines without query strings, and exits cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess

import httpx
import pytest

from ehelse_process import ehelse_argv, free_port, run, wait_until_healthy

pytestmark = pytest.mark.slow  # a few seconds: a real server process


@pytest.mark.parametrize("server", ["granian", "uvicorn"])
def test_serve_create_read_and_sigterm(sqlite_url, server):
    run("db", "upgrade", "--database", sqlite_url)
    token = run("token", "--as", "admin", "--database", sqlite_url).stdout.strip()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(ehelse_argv("serve", "--server", server, "--database", sqlite_url, "--port", port,
                                           "--log-level", "info"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_healthy(base, process)
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
        created = httpx.post(f"{base}/fhir/Patient", headers=auth,
                             content=b'{"resourceType":"Patient","birthDate":"1980-02-29"}')
        assert created.status_code == 201, created.text
        location = created.headers["location"]
        assert location.startswith(f"{base}/fhir/Patient/")
        read = httpx.get(location.split("/_history")[0], headers=auth)
        assert read.status_code == 200 and read.json()["birthDate"] == "1980-02-29"
        assert httpx.get(f"{base}/fhir/Patient?identifier=secret-fnr", headers=auth).status_code == 200
        assert httpx.get(f"{base}/fhir/Patient/x").status_code == 401
        assert httpx.get(f"{base}/readyz").status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read()
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "ehelse.access"]
    assert any(line["interaction"] == "create" and line["status"] == 201 for line in access), stderr[-2000:]
    assert all(line["request_id"] for line in access)
    assert "secret-fnr" not in stderr  # query strings are never logged
    assert any(line["message"] == "shut down cleanly" for line in lines)
