"""HTTP behaviour of the web layer: content negotiation, limits, bad bodies, request ids,
security headers, _pretty, and the operations endpoints."""

from __future__ import annotations

import json

import pytest

from ehelse.web.app import create_app

pytestmark = pytest.mark.anyio

PATIENT = b'{"resourceType":"Patient","gender":"female","birthDate":"1980-01-02"}'
FHIR_JSON = {"content-type": "application/fhir+json"}


def _outcome(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    if code:
        assert body["issue"][0]["code"] == code
    return body


async def test_read_has_fhir_content_type_and_no_store(client, memory_repo):
    memory_repo.create({"resourceType": "Patient"}, id="p1")
    r = await client.get("/fhir/Patient/p1")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/fhir+json; charset=utf-8"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_create_passes_base_url_and_location(client, router):
    r = await client.post("/fhir/Patient", content=PATIENT, headers=FHIR_JSON)
    assert r.status_code == 201
    assert r.headers["location"].startswith("http://testserver/fhir/Patient/")
    assert router.requests[-1].base_url == "http://testserver/fhir"
    assert router.requests[-1].actor.is_admin


@pytest.mark.parametrize("accept", ["application/fhir+json", "application/json", "*/*", "application/*",
                                    "text/html, application/fhir+json;q=0.9", None])
async def test_accept_json_ok(client, accept):
    headers = {"accept": accept} if accept else {}
    assert (await client.get("/fhir/metadata", headers=headers)).status_code == 200


@pytest.mark.parametrize("accept", ["application/fhir+xml", "text/html", "application/fhir+json;q=0, application/xml"])
async def test_accept_other_is_406(client, accept):
    _outcome(await client.get("/fhir/metadata", headers={"accept": accept}), 406, "not-supported")


@pytest.mark.parametrize("fmt,status", [("json", 200), ("application/fhir+json", 200), ("xml", 406), ("ttl", 406)])
async def test_format_parameter(client, router, fmt, status):
    r = await client.get("/fhir/metadata", params={"_format": fmt}, headers={"accept": "application/xml"})
    assert r.status_code == status
    if status == 200:
        assert all(name != "_format" for name, _ in router.requests[-1].query)


async def test_pretty(client, memory_repo):
    memory_repo.create({"resourceType": "Patient", "gender": "male"}, id="p1")
    compact = (await client.get("/fhir/Patient/p1")).content
    pretty = (await client.get("/fhir/Patient/p1?_pretty=true")).content
    assert b"\n" not in compact and b"\n  " in pretty
    assert json.loads(compact) == json.loads(pretty)


@pytest.mark.parametrize("content_type", ["application/xml", "text/plain", "application/fhir+xml"])
async def test_body_of_other_type_is_415(client, content_type):
    r = await client.post("/fhir/Patient", content=PATIENT, headers={"content-type": content_type})
    _outcome(r, 415, "not-supported")


async def test_form_encoded_search_joins_the_query(client, router):
    r = await client.post("/fhir/Patient/_search", content=b"identifier=abc&_count=5",
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200
    assert ("identifier", "abc") in router.requests[-1].query
    assert router.requests[-1].body == b""


async def test_body_over_limit_is_413(client, settings):
    body = b'{"resourceType":"Patient","id":"' + b"a" * settings.max_body_bytes + b'"}'
    _outcome(await client.post("/fhir/Patient", content=body, headers=FHIR_JSON), 413, "too-costly")


async def test_streamed_body_over_limit_is_413(client, settings):
    async def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    _outcome(await client.post("/fhir/Patient", content=chunks(), headers=FHIR_JSON), 413)


async def test_ten_megabyte_string_is_413_and_server_unharmed(settings, memory_repo, router, admin_token):
    import httpx

    app = create_app(settings, memory_repo, router)  # limit 1 MiB in these tests
    body = b'{"resourceType":"Patient","text":{"div":"' + b"x" * (10 * 1024 * 1024) + b'"}}'
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        c.headers["Authorization"] = f"Bearer {app.state.tokens.issue('admin')}"
        _outcome(await c.post("/fhir/Patient", content=body, headers=FHIR_JSON), 413)
        assert (await c.get("/healthz")).status_code == 200


async def test_invalid_utf8_body_is_400(client):
    r = await client.post("/fhir/Patient", content=b'{"resourceType":"Patient","gender":"\xff\xfe"}', headers=FHIR_JSON)
    body = _outcome(r, 400)
    assert "UTF-8" in body["issue"][0]["diagnostics"]


async def test_invalid_utf8_query_is_400(client):
    _outcome(await client.get("/fhir/Patient?name=%ff%fe"), 400)


async def test_deep_json_is_400(client):
    body = b'{"resourceType":"Patient","extension":' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    _outcome(await client.post("/fhir/Patient", content=body, headers=FHIR_JSON), 400)


async def test_request_id_echoed_when_sane(client, router):
    r = await client.get("/fhir/metadata", headers={"x-request-id": "abc-123.x"})
    assert r.headers["x-request-id"] == "abc-123.x"
    assert router.requests[-1].request_id == "abc-123.x"


@pytest.mark.parametrize("bad", ["a b", "x" * 200, "<script>", ""])
async def test_request_id_replaced_when_not_sane(client, bad):
    r = await client.get("/healthz", headers={"x-request-id": bad})
    assert r.headers["x-request-id"] != bad and len(r.headers["x-request-id"]) == 32


async def test_router_crash_is_500_outcome(settings, memory_repo, admin_token):
    import httpx

    class Broken:
        def handle(self, request, repo):
            raise RuntimeError("secret detail")

    app = create_app(settings, memory_repo, Broken())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/fhir/Patient", headers={"Authorization": f"Bearer {app.state.tokens.issue('admin')}"})
    body = _outcome(r, 500)
    assert "secret" not in r.text and r.headers["x-request-id"] in body["issue"][0]["diagnostics"]


async def test_unknown_path_is_404_outcome(client):
    _outcome(await client.get("/nothing-here"), 404, "not-found")


async def test_healthz(client):
    r = await client.get("/healthz", headers={"Authorization": ""})
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_readyz_ok(client):
    r = await client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"


async def test_readyz_503_when_database_unreachable(settings, router, memory_repo, monkeypatch):
    import httpx

    def refused():
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(memory_repo, "ping", refused)
    app = create_app(settings, memory_repo, router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/readyz")
        assert (await c.get("/healthz")).status_code == 200  # alive, just not ready
    body = _outcome(r, 503, "transient")
    assert body["issue"][0]["diagnostics"] == "database unreachable"  # no driver detail leaks


@pytest.mark.postgres
async def test_readyz_503_when_postgres_is_down(settings, router):
    import httpx

    # Nothing listens on port 1: every connection attempt is refused.
    url = "postgresql://postgres@127.0.0.1:1/none?connect_timeout=1"
    app = create_app(Settings_with(settings, database_url=url), router=router)
    app.state._repo_options = {"connect_timeout": 1.0}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/readyz")
    _outcome(r, 503, "transient")


async def test_readyz_503_when_migrations_not_current(settings, router, memory_repo, monkeypatch):
    import httpx

    monkeypatch.setattr(memory_repo, "migrations_current", lambda: False)
    app = create_app(settings, memory_repo, router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/readyz")
    assert "db upgrade" in _outcome(r, 503)["issue"][0]["diagnostics"]


async def test_metrics_count_a_request(client, memory_repo):
    memory_repo.create({"resourceType": "Patient"}, id="p1")
    await client.get("/fhir/Patient/p1")
    await client.get("/fhir/Patient/p1")
    text = (await client.get("/metrics")).text
    assert 'ehelse_http_requests_total{interaction="read",method="GET",status="200"} 2' in text
    assert 'ehelse_http_request_duration_seconds_count{interaction="read"} 2' in text
    assert "# TYPE ehelse_http_request_duration_seconds histogram" in text


async def test_metrics_do_not_label_by_path(client):
    for i in range(5):
        await client.get(f"/fhir/Patient/nope{i}")
    assert "nope" not in (await client.get("/metrics")).text


async def test_operations_are_get_only(client):
    r = await client.post("/healthz")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def Settings_with(settings, **overrides):
    from ehelse.settings import Settings

    return Settings({**settings.values, **overrides})
