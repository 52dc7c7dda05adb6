"""Helpers the test modules import by name (`from testsupport import ...`).

They live here rather than in conftest.py: several folders have a conftest.py, and
`from conftest import x` would find whichever of them was imported first.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


def shared_path() -> Path | None:
    """../shared relative to the repository root, when it is there."""
    path = REPO_ROOT.parent / "shared"
    return path if path.is_dir() else None


def pg_base_url() -> str:
    return os.environ.get("EHELSE_TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL


def schema_url(base: str, schema: str) -> str:
    """`base` with its search_path set to `schema` (libpq `options`, URL-encoded)."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote('-csearch_path=' + schema, safe='')}"


def copy_db(source: Path, target_dir: Path) -> Path:
    """A copy of a SQLite database (with its -wal and -shm files) in target_dir."""
    import shutil

    target = target_dir / source.name
    for suffix in ("", "-wal", "-shm"):
        if Path(str(source) + suffix).exists():
            shutil.copy(str(source) + suffix, str(target) + suffix)
    return target


def free_port() -> int:
    """A free TCP port on loopback for a server a test starts."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hold_first_commit(monkeypatch, repo, trail, waiting: int) -> None:
    """Make concurrent audit records overlap for certain instead of up to the scheduler (on a
    loaded machine the reader threads could run one after another, one commit each): the
    trail's first commit waits, up to a generous deadline, until `waiting` more records are
    queued behind it; those then share the next commit (group commit, audit/trail.py)."""
    import threading
    import time
    from contextlib import contextmanager

    real_transaction = repo.transaction
    first = threading.Event()

    @contextmanager
    def transaction():
        if not first.is_set():
            first.set()
            deadline = time.monotonic() + 30
            while len(trail._queue) < waiting and time.monotonic() < deadline:
                time.sleep(0.001)
        with real_transaction():
            yield

    monkeypatch.setattr(repo, "transaction", transaction)


def start_uvicorn(env: dict[str, str]) -> tuple[str, "subprocess.Popen"]:
    """The app served by uvicorn in a subprocess with these EHELSE_ settings on top of the
    environment (rate limit off, warnings only); returns (base URL, process) once /readyz
    answers. The deadline is generous: a loaded CI machine can take long to start it."""
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    environ = {**os.environ, "EHELSE_RATE_LIMIT": "0", "EHELSE_LOG_LEVEL": "warning", **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "ehelse.web.app:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return url, process
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the server did not start: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)


def stop_process(process: "subprocess.Popen", kill: bool = False) -> None:
    """SIGTERM (graceful shutdown) or SIGKILL, then wait; killed if it does not stop in 10 s."""
    import subprocess

    if kill:
        process.kill()
    else:
        process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def errors_in_threads(target, count: int) -> list[BaseException]:
    """Run `target` in `count` threads at once and return what they raised: an assert that
    fails in a thread is otherwise only a warning, and the test would pass."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller to assert on
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def process_records(repo) -> list[dict]:
    """The audit log rows this process wrote to `repo`, oldest first: its trail's chain (write
    transactions) and, on SQLite, its journal's (what is recorded outside them,
    audit/journal.py)."""
    from ehelse.audit import log
    from ehelse.audit.trail import trail_for

    trail = trail_for(repo)
    chains = {trail.chain_id, trail.outside.chain_id}
    rows = [r for chain in chains for r in log.select(repo, log.LogQuery(chain=chain))]
    return sorted(rows, key=lambda r: (r["recorded"], r["chain"], r["seq"]))
