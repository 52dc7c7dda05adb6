"""Which ASGI server and which way of calling the synchronous FHIR core give more read
throughput? A small measurement for the web layer's defaults (the full benchmark is
bench/runner).

For each server (granian, uvicorn+uvloop+httptools) and each mode (reads inline on the event
loop, or every request through anyio's thread pool) it serves the app on a fresh SQLite file
with one worker, reads one Patient by id with 32 keep-alive wrk connections, and compares
with /healthz on the same process (a bare JSON answer through the same middleware).

    .venv/bin/python -m bench.web_stack [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.wrk import run_wrk

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def app_threaded():
    """The app with reads sent through the thread pool like every other request."""
    from ehelse.web.app import create_app

    app = create_app()
    app.fhir.inline_reads = False
    return app


def _server_argv(server: str, target: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [str(BIN / "uvicorn"), target, "--factory", "--port", str(port), "--loop", "uvloop",
                "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    return [str(BIN / "granian"), "--interface", "asgi", "--factory", "--port", str(port),
            "--no-access-log", "--log-level", "warning", target]


def _wait(url: str) -> None:
    for _ in range(300):
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _request(url: str, token: str, method: str = "GET", body: bytes | None = None) -> dict:
    request = urllib.request.Request(url, data=body, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def measure(server: str, mode: str, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "EHELSE_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite", "EHELSE_LOG_LEVEL": "warning",
               "PYTHONPATH": str(ROOT)}
        subprocess.run([str(BIN / "ehelse"), "db", "upgrade"], env=env, check=True, capture_output=True)
        token = subprocess.run([str(BIN / "ehelse"), "token", "--as", "admin"], env=env, check=True,
                               capture_output=True, text=True).stdout.strip()
        # The one resource read is stored directly: this measures reads, not the write path.
        from ehelse.storage import open_repository

        repo = open_repository(env["EHELSE_DATABASE_URL"])
        patient_id = repo.create({"resourceType": "Patient", "gender": "female", "birthDate": "1970-01-01"}).id
        repo.close()
        port = 18000 + (os.getpid() % 1000)
        target = "ehelse.web.app:create_app" if mode == "inline" else "bench.web_stack:app_threaded"
        process = subprocess.Popen(_server_argv(server, target, port), env=env, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base)
            patient = {"id": patient_id}
            bare = run_wrk(base, ["/healthz"], seconds=seconds)
            read = run_wrk(base, [f"/fhir/Patient/{patient['id']}"], token=token, seconds=seconds)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    return {"server": server, "mode": mode, "bare_rps": bare["requests_per_s"],
            "read_rps": read["requests_per_s"], "ratio": round(read["requests_per_s"] / bare["requests_per_s"], 2),
            "read_p99_ms": read["p99_ms"], "errors": bare["errors"] + read["errors"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--servers", default="granian,uvicorn")
    parser.add_argument("--modes", default="inline,thread")
    args = parser.parse_args()
    for server in args.servers.split(","):
        for mode in args.modes.split(","):
            print(json.dumps(measure(server, mode, args.seconds)), flush=True)


if __name__ == "__main__":
    main()
