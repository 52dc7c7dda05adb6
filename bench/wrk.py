"""wrk, the C HTTP load generator, driven from Python: GET a list of paths with a header.

wrk costs far less CPU per request than any Python client, which matters when the server and
the load generator share 2 cores. The Lua script cycles each thread through the paths and
prints wrk's own summary as one JSON line (`done` hook), so nothing is parsed from prose.
Install: `apt-get install -y wrk` (the bench target does this when run as root).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

LUA_SCRIPT = r"""
local paths = {}
local headers = {}
local position = 0
local thread_number = 0

function setup(thread)
  thread:set("thread_number", thread_number)
  thread_number = thread_number + 1
end

function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  if args[2] ~= nil and args[2] ~= "" then headers["Authorization"] = "Bearer " .. args[2] end
  -- threads start at different places in the list so they do not read in lock-step
  position = (thread_number * 7919) % #paths
end

function request()
  position = position % #paths + 1
  return wrk.format("GET", paths[position], headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
    '"mean_us":%.1f,"p50_us":%d,"p95_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency.mean, latency:percentile(50), latency:percentile(95),
    latency:percentile(99)))
end
"""


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run_wrk(base_url: str, paths: list[str], *, token: str = "", connections: int = 32,
            threads: int = 2, seconds: float = 10.0) -> dict:
    """Run wrk against base_url cycling through `paths`; its figures as a dict:
    requests, requests_per_s, errors, latency p50/p95/p99 in ms."""
    executable = wrk_path()
    if executable is None:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk)")
    with tempfile.TemporaryDirectory(prefix="ehelse-wrk-") as directory:
        script = Path(directory) / "paths.lua"
        script.write_text(LUA_SCRIPT)
        path_file = Path(directory) / "paths.txt"
        path_file.write_text("\n".join(paths) + "\n")
        argv = [executable, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                "--timeout", "10s", "-s", str(script), base_url, "--", str(path_file), token]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    line = next((l for l in done.stdout.splitlines() if l.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line[len("WRK_JSON "):])
    duration = raw["duration_us"] / 1e6
    errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors",
                                  "status_errors", "timeouts"))
    return {
        "tool": "wrk",
        "requests": raw["requests"],
        "duration_s": round(duration, 2),
        "requests_per_s": round(raw["requests"] / duration, 1) if duration else 0.0,
        "errors": errors,
        "status_errors": raw["status_errors"],
        "bytes_per_response": round(raw["bytes"] / raw["requests"]) if raw["requests"] else 0,
        "p50_ms": raw["p50_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "connections": connections,
        "threads": threads,
    }
