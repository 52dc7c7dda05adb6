"""Prometheus metrics, written in the text exposition format by hand (no extra dependency).

https://prometheus.io/docs/instrumenting/exposition_formats/ — counters end in `_total`,
histograms have cumulative `_bucket{le=...}`, `_sum` and `_count`.

Metrics are per process: with `serve --workers N` each worker counts its own requests and a
scrape reaches whichever worker accepts it. Scrape each worker (one port per process) or sum
over a short window; docs/settings.md says so. Nothing here is needed by another process.
"""

from __future__ import annotations

import bisect
from typing import Any, Callable

# Latency buckets in seconds: fine below 10 ms where reads live, coarse up to bulk writes.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Request counts by interaction and status, latency histograms by interaction, requests
    in flight, and the database pool as the repository reports it."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[str, list[float]] = {}  # interaction -> bucket counts + [sum, count]
        self.in_flight = 0
        self.pool_stats: Callable[[], dict[str, Any]] | None = None
        self.audit_trail: Any = None  # this process's audit/trail.AuditTrail, once the database is open

    def observe(self, interaction: str, method: str, status: int, seconds: float) -> None:
        # Called on the event loop thread only (from the middleware), so no lock: this runs
        # on every request. render() copies under the GIL.
        key = (interaction, method, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        row = self.latency.get(interaction)
        if row is None:
            row = self.latency[interaction] = [0.0] * (len(BUCKETS) + 2)
        index = bisect.bisect_left(BUCKETS, seconds)
        if index < len(BUCKETS):
            row[index] += 1  # cumulated when rendered
        row[-2] += seconds
        row[-1] += 1

    def render(self) -> bytes:
        lines = [
            "# HELP ehelse_http_requests_total HTTP requests by FHIR interaction, method and status.",
            "# TYPE ehelse_http_requests_total counter",
        ]
        requests = sorted(self.requests.items())
        latency = {k: list(v) for k, v in list(self.latency.items())}
        in_flight = self.in_flight
        for (interaction, method, status), count in requests:
            lines.append(f'ehelse_http_requests_total{{interaction="{interaction}",method="{method}",'
                         f'status="{status}"}} {count}')
        lines += ["# HELP ehelse_http_request_duration_seconds Time to answer a request, by interaction.",
                  "# TYPE ehelse_http_request_duration_seconds histogram"]
        for interaction in sorted(latency):
            row = latency[interaction]
            cumulative = 0.0
            for bound, count in zip(BUCKETS, row):
                cumulative += count
                lines.append(f'ehelse_http_request_duration_seconds_bucket{{interaction="{interaction}",'
                             f'le="{bound}"}} {int(cumulative)}')
            lines.append(f'ehelse_http_request_duration_seconds_bucket{{interaction="{interaction}",'
                         f'le="+Inf"}} {int(row[-1])}')
            lines.append(f'ehelse_http_request_duration_seconds_sum{{interaction="{interaction}"}} {row[-2]:.6f}')
            lines.append(f'ehelse_http_request_duration_seconds_count{{interaction="{interaction}"}} {int(row[-1])}')
        lines += ["# HELP ehelse_http_requests_in_flight Requests being answered now.",
                  "# TYPE ehelse_http_requests_in_flight gauge", f"ehelse_http_requests_in_flight {in_flight}"]
        lines += self._pool_lines()
        lines += self._audit_lines()
        return ("\n".join(lines) + "\n").encode()

    def _audit_lines(self) -> list[str]:
        # Records over commits is the group commit at work (audit/trail.py): with many
        # concurrent reads, tens of records share one transaction. Labelled by the chain
        # (one per process, and on SQLite one more for its journal, audit/journal.py, whose
        # commits are the ingests that move its records into the table), so the figures of
        # several workers can be told apart and summed.
        trail = self.audit_trail
        if trail is None:
            return []
        # `process`: the trail's own chain, which names the process whichever chain it is.
        chains = [trail] if trail.journal is None else [trail, trail.journal]
        process = _label(trail.chain_id)
        return ["# HELP ehelse_audit_records_total Audit records this process committed.",
                "# TYPE ehelse_audit_records_total counter",
                *(f'ehelse_audit_records_total{{chain="{_label(c.chain_id)}",process="{process}"}} {c.seq}'
                  for c in chains),
                "# HELP ehelse_audit_commits_total Transactions this process's audit trail committed.",
                "# TYPE ehelse_audit_commits_total counter",
                *(f'ehelse_audit_commits_total{{chain="{_label(c.chain_id)}",process="{process}"}} {c.commits}'
                  for c in chains)]

    def _pool_lines(self) -> list[str]:
        # A backend may offer `pool_stats() -> {"size": 10, "available": 7, ...}` (numbers);
        # the protocol does not require it, so its absence just means no pool metrics.
        if self.pool_stats is None:
            return []
        try:
            stats = self.pool_stats()
        except Exception:  # a broken database must not break the metrics page
            return []
        lines = ["# HELP ehelse_db_pool Database connection pool figures, as the backend reports them.",
                 "# TYPE ehelse_db_pool gauge"]
        for name, value in sorted(stats.items()):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                lines.append(f'ehelse_db_pool{{stat="{_label(name)}"}} {value}')
        return lines


def _label(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
