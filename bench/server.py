"""`ehelse serve` as a subprocess on a free port, for the HTTP benchmarks.

The benchmarks measure the server exactly as a user runs it: `ehelse db upgrade`, then
`ehelse serve --database URL --port N --workers N`, polled on /healthz until it answers.
Tokens come from `ehelse token --as admin --database URL` (DESIGN.md contract).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import REPO_ROOT

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def ehelse_command() -> list[str]:
    """The `ehelse` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "ehelse"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "ehelse.cli.main"]


def bench_env() -> dict[str, str]:
    """The environment of every subprocess: quiet logs (an access log line per request would
    be measured too)."""
    env = dict(os.environ)
    env["EHELSE_LOG_LEVEL"] = "warning"
    return env


def run_cli(*args: str, timeout: float = 120.0) -> str:
    """Run an `ehelse` command; its stdout, or RuntimeError with its stderr."""
    done = subprocess.run([*ehelse_command(), *args], capture_output=True, text=True,
                          timeout=timeout, env=bench_env(), cwd=REPO_ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"ehelse {' '.join(args)} failed ({done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")
    return done.stdout


def upgrade_database(database_url: str) -> None:
    run_cli("db", "upgrade", "--database", database_url)


def settle_audit(base_url: str, admin_token: str) -> None:
    """Make the server move every audit record still waiting in a journal into the database
    now (SQLite, audit/journal.py: a reader of the log catches up first), so a CPU meter
    around a load and this call counts the whole cost of the load's audit records, not only
    the part the server happened to move during the run."""
    request = urllib.request.Request(base_url + "/fhir/AuditEvent?_count=1",
                                     headers={"Authorization": f"Bearer {admin_token}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()


def admin_token(database_url: str) -> str:
    """A bearer token for an admin of that database (the last non-empty line printed)."""
    lines = [line.strip() for line in run_cli("token", "--as", "admin", "--database",
                                               database_url).splitlines() if line.strip()]
    if not lines:
        raise RuntimeError("ehelse token printed nothing")
    return lines[-1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A server subprocess: started on enter, polled until `health_path` answers 200, and
    stopped (SIGTERM to its process group, then SIGKILL) on exit."""

    def __init__(self, argv: list[str], port: int, *, health_path: str = "/healthz",
                 env: dict[str, str] | None = None):
        self.argv = argv
        self.port = port
        self.health_path = health_path
        self.env = env or bench_env()
        self.base_url = f"http://127.0.0.1:{port}"
        self._process: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile()

    def __enter__(self) -> "ServerProcess":
        self._process = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT,
                                         env=self.env, cwd=REPO_ROOT, start_new_session=True)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def process_group(self) -> int | None:
        """The server's process group (its pid: it leads its own session), for bench.cpu."""
        return self._process.pid if self._process is not None else None

    def log_tail(self, limit: int = 3000) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-limit:]

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        url = self.base_url + self.health_path
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"server exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not healthy at {url} after {START_TIMEOUT:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        # The server forks workers: signal its whole process group (its own session).
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT)
        except ProcessLookupError:
            pass


def ehelse_server(database_url: str, *, workers: int) -> ServerProcess:
    """`ehelse serve` on a free port for that (already upgraded) database."""
    port = free_port()
    argv = [*ehelse_command(), "serve", "--database", database_url, "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers)]
    return ServerProcess(argv, port)

