"""Structured logs: one JSON object per line, each with the request id of the request it
belongs to.

Only what is safe to keep goes in: method, path without the query string, status, duration
and the FHIR interaction. Query strings and bodies are never logged: they may hold personal
data (a search by national identity number, a resource).
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from typing import Any

import orjson

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

access_log = logging.getLogger("ehelse.access")
log = logging.getLogger("ehelse")

# Fields a record may carry (via `extra=`) that the JSON formatter copies out.
_FIELDS = ("method", "path", "status", "duration_ms", "interaction", "actor")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                    + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", None) or request_id.get(),
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None) or request_id.get() or "-"
        line = f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {record.levelname:<7} [{rid}] " \
               f"{record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(level: str = "info", fmt: str = "json") -> None:
    """Send ehelse's logs to stderr in the chosen format. Idempotent (safe per worker)."""
    root = logging.getLogger("ehelse")
    root.setLevel(level.upper())
    root.propagate = False
    for handler in list(root.handlers):
        if getattr(handler, "_ehelse", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._ehelse = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)


def access(method: str, path: str, status: int, duration_ms: float, interaction: str, rid: str) -> None:
    if access_log.isEnabledFor(logging.INFO):
        access_log.info("%s %s %s", method, path, status, extra={
            "method": method, "path": path, "status": status, "duration_ms": round(duration_ms, 2),
            "interaction": interaction, "request_id": rid})
