"""Fixtures of the Bulk Data export tests: a seeded SQLite database (once per session) and
real servers (uvicorn subprocesses) over copies of it, which the tests drive over HTTP as
any Bulk Data client would."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
from testsupport import copy_db, start_uvicorn, stop_process

SEED_PATIENTS = 20


@pytest.fixture(scope="session")
def bulk_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ehelse.nobasis.seed import seed
    from ehelse.storage import open_repository

    path = tmp_path_factory.mktemp("bulk-seed") / "seed.sqlite"
    repo = open_repository(f"sqlite:///{path}")
    try:
        seed(repo, patients=SEED_PATIENTS, seed=1, validate_every=0)
    finally:
        repo.close()
    return path


class Server:
    def __init__(self, url: str, database_url: str, export_dir: Path, process: subprocess.Popen):
        self.url, self.database_url, self.export_dir, self.process = url, database_url, export_dir, process

    @property
    def fhir(self) -> str:
        return self.url + "/fhir"

    def stop(self, kill: bool = False) -> None:
        stop_process(self.process, kill)


def start_server(database_url: str, export_dir: Path, **env: str) -> Server:
    url, process = start_uvicorn({"EHELSE_DATABASE_URL": database_url, "EHELSE_EXPORT_DIR": str(export_dir), **env})
    return Server(url, database_url, export_dir, process)


@pytest.fixture(scope="module")
def server(bulk_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("bulk-live")
    path = copy_db(bulk_db, folder)
    live = start_server(f"sqlite:///{path}", folder / "export")
    yield live
    live.stop()


@pytest.fixture(scope="module")
def repo(server: Server) -> Iterator[Any]:
    from ehelse.storage import open_repository

    opened = open_repository(server.database_url)
    yield opened
    opened.close()


def token(repo: Any, actor: str, **options: Any) -> str:
    from ehelse.access.tokens import TokenService
    from ehelse.settings import Settings

    return TokenService(Settings.from_env(database_url=repo.url), repo).issue(actor, **options)
