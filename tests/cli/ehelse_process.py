"""Running `ehelse` as a real subprocess, for the tests that need one (server, SIGKILL)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from testsupport import free_port  # noqa: F401 (the modules here import it from this one)

REPO_ROOT = Path(__file__).resolve().parents[2]


def ehelse_argv(*args: str) -> list[str]:
    script = Path(sys.executable).parent / "ehelse"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "ehelse.cli.main"]
    return [*base, *map(str, args)]


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    done = subprocess.run(ehelse_argv(*args), capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early with {process.returncode}: {process.stderr.read()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become healthy in time")
