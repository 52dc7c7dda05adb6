"""Where the CPU went during a measurement: server, database, load generator.

On a 2-core machine that runs all three, a throughput figure means little without knowing
how the cores were shared. Read from /proc (Linux): the server's process group (the
`ehelse serve` subprocess and its workers), every process named `postgres`, and `bench`:
this process plus its waited-for children (the Python load generator, wrk, or the
in-process importer). Elsewhere the figures are zero.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PROC = Path("/proc")


def _process_cpu(pid_dir: Path) -> tuple[str, int, float] | None:
    """(command name, process group, user+system seconds) of one /proc/<pid>."""
    try:
        stat = (pid_dir / "stat").read_text()
    except OSError:
        return None
    # the command name is in parentheses and may hold spaces: split after the last ')'
    name = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    return name, int(fields[2]), (int(fields[11]) + int(fields[12])) / _TICKS


def _machine_busy() -> float:
    """CPU seconds all cores have been busy since boot (/proc/stat: all but idle and iowait)."""
    try:
        fields = [int(v) for v in (_PROC / "stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return 0.0
    return (sum(fields) - fields[3] - fields[4]) / _TICKS


def _snapshot(server_group: int | None) -> dict[str, float]:
    server = postgres = 0.0
    if _PROC.is_dir():
        for pid_dir in _PROC.iterdir():
            if not pid_dir.name.isdigit():
                continue
            found = _process_cpu(pid_dir)
            if found is None:
                continue
            name, group, seconds = found
            if server_group is not None and group == server_group:
                server += seconds
            elif name == "postgres":
                postgres += seconds
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"server": server, "postgres": postgres,
            "bench": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
            "busy": _machine_busy(), "wall": time.perf_counter()}


class CpuMeter:
    """`with CpuMeter(server_pid) as meter: ...` then `meter.result`: CPU seconds of each
    party during the block, each as a share of all the machine's cores, and `other`: the
    rest of the machine's busy time (processes not ours: noise on a shared machine)."""

    def __init__(self, server_group: int | None = None):
        self.server_group = server_group
        self.result: dict[str, float] = {}

    def __enter__(self) -> "CpuMeter":
        self._start = _snapshot(self.server_group)
        return self

    def __exit__(self, *exc_info) -> None:
        end = _snapshot(self.server_group)
        wall = end["wall"] - self._start["wall"]
        capacity = wall * (os.cpu_count() or 1)
        result: dict[str, float] = {}
        for party in ("server", "postgres", "bench"):
            seconds = end[party] - self._start[party]
            result[f"{party}_cpu_s"] = round(seconds, 2)
            result[f"{party}_share"] = round(seconds / capacity, 3) if capacity else 0.0
        # whatever else ran meanwhile (other users of a shared machine): the noise indicator
        other = (end["busy"] - self._start["busy"]) - sum(
            end[p] - self._start[p] for p in ("server", "postgres", "bench"))
        result["other_cpu_s"] = round(max(other, 0.0), 2)
        result["other_share"] = round(max(other, 0.0) / capacity, 3) if capacity else 0.0
        self.result = result


def per_cpu_second(count: int, cpu: dict[str, float], *, postgres: bool) -> float:
    """Operations per CPU-second our own parties used (server, bench process, and PostgreSQL
    when it is the backend): throughput per core with the shared machine's noise taken out,
    as long as the work was CPU-bound."""
    seconds = cpu.get("server_cpu_s", 0.0) + cpu.get("bench_cpu_s", 0.0)
    if postgres:
        seconds += cpu.get("postgres_cpu_s", 0.0)
    return round(count / seconds, 1) if seconds > 0 else 0.0
