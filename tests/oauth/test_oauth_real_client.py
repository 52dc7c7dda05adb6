"""A real SMART client: the `fhirclient` package (SMART on FHIR's Python client) completes
a standalone launch against a real `ehelse serve` process on loopback, with httpx as the
browser driving the login form, and reads data through the server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from oauth_flow import KARI, REDIRECT, csrf, people
from testsupport import stop_process

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from ehelse_process import ehelse_argv, free_port, wait_until_healthy  # noqa: E402

from ehelse.oauth import clients  # noqa: E402
from ehelse.oauth.store import store_for  # noqa: E402
from ehelse.storage import open_repository  # noqa: E402

fhirclient = pytest.importorskip("fhirclient.client")
pytestmark = pytest.mark.slow  # a real server process: a few seconds


@pytest.fixture
def server(tmp_path):
    url = f"sqlite:///{tmp_path / 'real.sqlite'}"
    repo = open_repository(url, sqlite_readers=1)
    for resource in people():
        repo.create(resource, id=resource["id"])
    clients.register(store_for(repo), name="fhirclient", redirect_uris=[REDIRECT], client_id="fhirclient-app",
                     scope="openid fhirUser launch/patient patient/*.rs")
    repo.close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(ehelse_argv("serve", "--server", "uvicorn", "--database", url, "--port", port,
                                           "--log-level", "warning"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_healthy(base, process)
        yield base
    finally:
        stop_process(process)


def test_fhirclient_standalone_launch_and_read(server):
    smart = fhirclient.FHIRClient(settings={"app_id": "fhirclient-app", "api_base": f"{server}/fhir",
                                            "redirect_uri": REDIRECT, "scope": "openid fhirUser patient/*.rs"})
    authorize_url = smart.authorize_url  # discovery from the CapabilityStatement, PKCE S256
    assert authorize_url.startswith(f"{server}/oauth2/authorize")
    with httpx.Client(base_url=server) as browser:
        r = browser.get(authorize_url)
        assert r.headers["location"] == "/login/idporten"
        page = browser.get("/login/idporten")
        r = browser.post("/login/idporten", data={"pid": KARI, "csrf_token": csrf(page.text)})
        assert r.headers["location"] == "/oauth2/picker"  # fhirclient asks launch/patient
        page = browser.get("/oauth2/picker")
        r = browser.post("/oauth2/picker", data={"patient": "demo-kari", "csrf_token": csrf(page.text)})
        page = browser.get(r.headers["location"])
        r = browser.post("/oauth2/consent", data={"decision": "approve", "csrf_token": csrf(page.text)})
        callback = r.headers["location"]
    assert callback.startswith(REDIRECT)
    smart.handle_callback(callback)  # code -> token at our token endpoint
    assert smart.ready and smart.patient_id == "demo-kari"
    patient = smart.patient  # GET /fhir/Patient/demo-kari with the bearer token
    assert patient is not None and patient.id == "demo-kari"
    assert patient.name[0].family == "Nordmann"
