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


def _machine() -> dict[str, float]:
    """CPU seconds of all cores since boot (/proc/stat): time in processes (user, nice,
    system) and time in interrupts (irq, softirq: loopback networking lands here) and steal."""
    try:
        f = [int(v) for v in (_PROC / "stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return {"processes": 0.0, "interrupts": 0.0}
    return {"processes": (f[0] + f[1] + f[2]) / _TICKS, "interrupts": (f[5] + f[6] + f[7]) / _TICKS}


def _snapshot(server_group: int | None) -> dict:
    """Per-process CPU of the server group and of PostgreSQL (by pid, so a process that
    exits or starts during the block does not skew the difference), and totals."""
    server: dict[int, float] = {}
    postgres: dict[int, float] = {}
    if _PROC.is_dir():
        for pid_dir in _PROC.iterdir():
            if not pid_dir.name.isdigit():
                continue
            found = _process_cpu(pid_dir)
            if found is None:
                continue
            name, group, seconds = found
            if server_group is not None and group == server_group:
                server[int(pid_dir.name)] = seconds
            elif name == "postgres":
                postgres[int(pid_dir.name)] = seconds
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"server": server, "postgres": postgres,
            "bench": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
            "machine": _machine(), "wall": time.perf_counter()}


def _grown(start: dict[int, float], end: dict[int, float]) -> float:
    """CPU used meanwhile by the processes alive at the end (new ones count in full)."""
    return sum(max(0.0, seconds - start.get(pid, 0.0)) for pid, seconds in end.items())


class CpuMeter:
    """`with CpuMeter(server_pid) as meter: ...` then `meter.result`: CPU seconds of each
    party during the block, each as a share of all the machine's cores; `other`: the rest
    of the machine's process time (not ours: noise on a shared machine); `interrupts`:
    irq and softirq time, not attributed to any process."""

    def __init__(self, server_group: int | None = None):
        self.server_group = server_group
        self.result: dict[str, float] = {}

    def __enter__(self) -> "CpuMeter":
        self._start = _snapshot(self.server_group)
        return self

    def __exit__(self, *exc_info) -> None:
        start, end = self._start, _snapshot(self.server_group)
        wall = end["wall"] - start["wall"]
        capacity = wall * (os.cpu_count() or 1)
        used = {"server": _grown(start["server"], end["server"]),
                "postgres": _grown(start["postgres"], end["postgres"]),
                "bench": end["bench"] - start["bench"]}
        machine = {k: end["machine"][k] - start["machine"][k] for k in end["machine"]}
        # whatever else ran meanwhile (other users of a shared machine): the noise indicator
        used["other"] = max(0.0, machine["processes"] - sum(used.values()))
        used["interrupts"] = machine["interrupts"]
        result: dict[str, float] = {}
        for party, seconds in used.items():
            result[f"{party}_cpu_s"] = round(seconds, 2)
            result[f"{party}_share"] = round(seconds / capacity, 3) if capacity else 0.0
        self.result = result


def per_cpu_second(count: int, cpu: dict[str, float], *, postgres: bool) -> float:
    """Operations per CPU-second our own parties used (server, bench process, and PostgreSQL
    when it is the backend): throughput per core with the shared machine's noise taken out,
    as long as the work was CPU-bound."""
    seconds = cpu.get("server_cpu_s", 0.0) + cpu.get("bench_cpu_s", 0.0)
    if postgres:
        seconds += cpu.get("postgres_cpu_s", 0.0)
    return round(count / seconds, 1) if seconds > 0 else 0.0
