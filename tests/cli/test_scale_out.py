"""Scale-out: two `ehelse serve` processes on one database serve the same data and accept
the same tokens; nothing one needs lives only in the other's memory."""

from __future__ import annotations

import signal
import subprocess

import httpx
import pytest

from ehelse_process import ehelse_argv, free_port, run, wait_until_healthy

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_servers_one_database(backend, request, tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    run("db", "upgrade", "--database", url)
    token = run("token", "--as", "admin", "--database", url).stdout.strip()
    ports = [free_port(), free_port()]
    servers = [subprocess.Popen(ehelse_argv("serve", "--database", url, "--port", port, "--log-level", "warning"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for port in ports]
    a, b = (f"http://127.0.0.1:{port}/fhir" for port in ports)
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    try:
        for port, server in zip(ports, servers):
            wait_until_healthy(f"http://127.0.0.1:{port}", server)
        created = httpx.post(f"{a}/Patient", headers=auth, content=b'{"resourceType":"Patient","gender":"male"}')
        assert created.status_code == 201, created.text
        pid = created.json()["id"] if created.content else created.headers["location"].split("/")[-3]
        seen = httpx.get(f"{b}/Patient/{pid}", headers=auth)
        assert seen.status_code == 200 and seen.json()["gender"] == "male"
        updated = httpx.put(f"{b}/Patient/{pid}", headers={**auth, "If-Match": 'W/"1"'},
                            content=b'{"resourceType":"Patient","id":"%s","gender":"female"}' % pid.encode())
        assert updated.status_code == 200, updated.text
        again = httpx.get(f"{a}/Patient/{pid}", headers=auth)
        assert again.json()["gender"] == "female" and again.json()["meta"]["versionId"] == "2"
        # A stale If-Match on the other server loses, not the earlier update.
        stale = httpx.put(f"{a}/Patient/{pid}", headers={**auth, "If-Match": 'W/"1"'},
                          content=b'{"resourceType":"Patient","id":"%s"}' % pid.encode())
        assert stale.status_code == 412
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            assert server.wait(timeout=30) == 0
