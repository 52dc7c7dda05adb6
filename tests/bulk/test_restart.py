"""A Bulk Data export survives its server: kick off an export, SIGKILL the server process,
start another server process on the same database, and the job completes there (the
second process's worker takes over once the dead worker's lease runs out)."""

from __future__ import annotations

import time

import httpx

from bulk.conftest import start_server, token
from testsupport import copy_db


def test_export_completes_after_the_server_is_killed(bulk_db, tmp_path):
    from ehelse.storage import open_repository

    path = copy_db(bulk_db, tmp_path)
    database_url = f"sqlite:///{path}"
    first = start_server(database_url, tmp_path / "export", EHELSE_EXPORT_LEASE="2")
    repo = open_repository(database_url)
    try:
        headers = {"authorization": f"Bearer {token(repo, 'admin')}", "accept": "application/fhir+json",
                   "prefer": "respond-async"}
        kick = httpx.get(f"{first.fhir}/$export", headers=headers)
        assert kick.status_code == 202, kick.text
        status_path = httpx.URL(kick.headers["content-location"]).path  # the job's status URL, any host
        first.stop(kill=True)  # SIGKILL: no clean shutdown, the lease is left behind
        second = start_server(database_url, tmp_path / "export", EHELSE_EXPORT_LEASE="2")
        try:
            deadline = time.monotonic() + 45
            while True:
                poll = httpx.get(f"{second.url}{status_path}", headers={"authorization": headers["authorization"]})
                if poll.status_code != 202 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert poll.status_code == 200, poll.text
            manifest = poll.json()
            assert manifest["output"] and sum(o["count"] for o in manifest["output"]) > 0
            patients = next(o for o in manifest["output"] if o["type"] == "Patient")
            file = httpx.get(second.url + httpx.URL(patients["url"]).path,
                             headers={"authorization": headers["authorization"]})
            assert file.status_code == 200 and file.text.count("\n") == patients["count"]
        finally:
            second.stop()
    finally:
        repo.close()
