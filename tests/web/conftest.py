"""Fixtures for the web layer: an app on the in-memory repository with a stand-in router
(the web layer is tested alone; the real router has its own tests), an httpx client over
ASGI, and admin tokens."""

from __future__ import annotations

import httpx
import pytest

from ehelse.access.tokens import TokenService
from ehelse.errors import NotFound
from ehelse.fhir import jsoncodec
from ehelse.fhir.request import FhirRequest, FhirResponse
from ehelse.settings import Settings
from ehelse.storage.memory import MemoryRepository
from ehelse.web.app import create_app


class StandInRouter:
    """Just enough FHIR for the web layer's tests: metadata, read, create, echo of what the
    router was given (so tests can see the FhirRequest the web layer built)."""

    def __init__(self) -> None:
        self.requests: list[FhirRequest] = []

    def handle(self, request: FhirRequest, repo) -> FhirResponse:
        self.requests.append(request)
        parts = request.path.split("/")
        if request.path == "metadata":
            return FhirResponse(200, {"resourceType": "CapabilityStatement", "status": "active"},
                                interaction="capabilities")
        if request.method == "POST" and len(parts) == 1:
            resource = jsoncodec.loads(request.body)
            version = repo.create(resource)
            return FhirResponse(201, body=version.content, interaction="create",
                                headers={"Location": f"{request.base_url}/{version.type}/{version.id}/_history/1",
                                         "ETag": 'W/"1"'})
        if request.method == "GET" and len(parts) == 2:
            version = repo.read(parts[0], parts[1])
            if version is None:
                raise NotFound(f"{request.path} not found")
            return FhirResponse(200, body=version.content, interaction="read")
        return FhirResponse(200, {"resourceType": "Bundle", "type": "searchset", "total": 0},
                            interaction="search-type")

    def stage_write(self, request: FhirRequest, repo):
        """The write lane's way in (web/writes.py): answered at once, never staged."""
        return self.handle(request, repo)

    def failure(self, request: FhirRequest, exc: BaseException) -> FhirResponse:
        raise exc


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env({}, max_body_bytes=1024 * 1024, log_level="warning")


@pytest.fixture
def memory_repo() -> MemoryRepository:
    return MemoryRepository()


@pytest.fixture
def router() -> StandInRouter:
    return StandInRouter()


@pytest.fixture
def app(settings, memory_repo, router):
    return create_app(settings, memory_repo, router)


@pytest.fixture
def tokens(app) -> TokenService:
    return app.state.tokens


@pytest.fixture
def admin_token(tokens) -> str:
    return tokens.issue("admin")


@pytest.fixture
async def client(app, admin_token):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        c.headers["Authorization"] = f"Bearer {admin_token}"
        yield c


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
