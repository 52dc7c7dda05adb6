"""Rate limiting of the login and token endpoints: token buckets per client IP (here) and
per account (the endpoints call `limiter.hit("account ...")` with the client_id, FNR or HPR
number they were given).

Per process, on purpose: a bucket is a few floats in memory and a check costs no database
round trip, which matters because these limits exist to absorb floods. The price is that
with N server processes an attacker gets up to N times the `rate_limit` per minute; for
password-less logins through ID-porten/HelseID and signed client assertions that bound is
acceptable, and a load balancer in front can add a global limit. The client IP is the
connection's peer: behind a proxy, have the ASGI server trust its X-Forwarded-For.

Limited paths: /oauth2/token, /oauth2/authorize, /oauth2/register, /oauth2/introspect,
/oauth2/revoke and POSTs to /login/*. Over the limit: 429 with Retry-After and an
OperationOutcome (JSON) or, for the login pages, a page.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ehelse.errors import TooManyRequests
from ehelse.web.responses import send_error

LIMITED = ("/oauth2/token", "/oauth2/authorize", "/oauth2/register", "/oauth2/introspect", "/oauth2/revoke")
_MAX_KEYS = 50_000


class Limiter:
    """Token buckets: `per_minute` requests a minute, bursts up to the same number."""

    def __init__(self, per_minute: int):
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last time)
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        if self.capacity <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if len(self._buckets) > _MAX_KEYS:
                self._buckets.clear()  # bounded memory under a flood of distinct keys
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            return True

    def hit(self, key: str) -> None:
        if not self.allow(key):
            raise TooManyRequests("Too many attempts; wait a minute and try again",
                                  headers={"Retry-After": "60"})


class RateLimit:
    def __init__(self, app: Any, settings: Any):
        self.app = app
        self.limiter = Limiter(int(settings.rate_limit))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope["ehelse.ratelimit"] = self.limiter
            path = scope["path"]
            if path in LIMITED or (path.startswith("/login/") and scope["method"] == "POST"):
                client = (scope.get("client") or ("unknown", 0))[0]
                if not self.limiter.allow("ip " + client):
                    if path.startswith("/login/"):
                        await _page(send)
                    else:
                        await send_error(send, TooManyRequests("Too many requests from this address; wait a minute"),
                                         headers=[(b"retry-after", b"60")])
                    return
        await self.app(scope, receive, send)


async def _page(send: Any) -> None:
    body = ("<!doctype html><html lang=\"nb\"><head><meta charset=\"utf-8\"><title>For mange forsøk</title></head>"
            "<body><main><h1>For mange forsøk</h1><p>Vent et minutt og prøv igjen. "
            "<span lang=\"en\">Too many attempts; wait a minute and try again.</span></p></main></body></html>")
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"text/html; charset=utf-8"), (b"retry-after", b"60")]})
    await send({"type": "http.response.body", "body": body.encode()})
