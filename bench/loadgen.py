"""A small asyncio HTTP/1.1 load generator: keep-alive connections, latency recording.

Why not httpx: on a 2-core machine shared with the server, the client's own CPU cost shows
up in the server's figures. Raw asyncio streams (on uvloop when installed) with a minimal
HTTP/1.1 parser cost a fraction of a general client. It speaks just what the benchmarks
need: Content-Length and chunked responses, keep-alive (RFC 9112).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


class HttpError(Exception):
    """The server broke the connection or answered something this client cannot parse."""


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Connection:
    """One keep-alive HTTP/1.1 connection; requests on it run one at a time."""

    def __init__(self, base_url: str, *, default_headers: dict[str, str] | None = None):
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        extra = "".join(f"{k}: {v}\r\n" for k, v in (default_headers or {}).items())
        self._fixed_headers = f"Host: {self.host}:{self.port}\r\n{extra}".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        self._reader = self._writer = None

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: dict[str, str] | None = None) -> Response:
        """Send one request and read its whole response; reconnects once if the server
        closed an idle keep-alive connection."""
        head = [f"{method} {self.prefix}{path} HTTP/1.1\r\n".encode(), self._fixed_headers]
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}\r\n".encode())
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body)}\r\n".encode())
        head.append(b"\r\n")
        message = b"".join(head) + body
        for attempt in (1, 2):
            if self._writer is None:
                await self._connect()
            try:
                self._writer.write(message)
                return await self._read_response(method)
            except (ConnectionError, asyncio.IncompleteReadError, HttpError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _read_response(self, method: str) -> Response:
        reader = self._reader
        status_line = await reader.readline()
        if not status_line:
            raise HttpError("connection closed before a response")
        try:
            status = int(status_line.split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise HttpError(f"bad status line {status_line[:80]!r}") from None
        headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked(reader)
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        else:
            body = await reader.read()  # until close (HTTP/1.0 style)
            await self.close()
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, body)

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


@dataclass(slots=True)
class LatencyRecorder:
    """Latencies in seconds per operation kind, and counts of unexpected statuses."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def record(self, kind: str, seconds: float, ok: bool = True) -> None:
        self.samples.setdefault(kind, []).append(seconds)
        if not ok:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.samples.values())

    def summary(self, duration: float) -> dict[str, dict[str, float]]:
        """Per kind (and 'all'): count, errors, ops/s and p50/p95/p99 in milliseconds."""
        kinds = dict(self.samples)
        kinds["all"] = [s for values in self.samples.values() for s in values]
        result = {}
        for kind, values in kinds.items():
            ordered = sorted(values)
            errors = sum(self.errors.values()) if kind == "all" else self.errors.get(kind, 0)
            result[kind] = {
                "count": len(ordered),
                "errors": errors,
                "ops_per_s": round(len(ordered) / duration, 1) if duration > 0 else 0.0,
                "p50_ms": round(percentile(ordered, 0.50) * 1000, 2),
                "p95_ms": round(percentile(ordered, 0.95) * 1000, 2),
                "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
            }
        return result


async def timed(recorder: LatencyRecorder, kind: str, connection: Connection, method: str,
                path: str, body: bytes = b"", *, expect: int | tuple[int, ...] = 200,
                headers: dict[str, str] | None = None) -> Response:
    """One request, its latency recorded under `kind`, flagged as an error unless the status
    is one of `expect`."""
    started = time.perf_counter()
    response = await connection.request(method, path, body, headers)
    elapsed = time.perf_counter() - started
    allowed = expect if isinstance(expect, tuple) else (expect,)
    recorder.record(kind, elapsed, response.status in allowed)
    return response


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (uvicorn[standard] brings it): a cheaper client."""
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


def run(coroutine):
    loop = new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()
