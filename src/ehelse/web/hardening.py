"""Browser-facing hardening for every response: security headers and CORS.

security_headers() adds, through RequestContext (web/middleware.py), to every response:
    X-Content-Type-Options, Referrer-Policy, X-Frame-Options
    Content-Security-Policy   HTML pages: our own scripts, styles and images only, never
                              inline script; frame-ancestors 'none' (clickjacking). Responses
                              that set their own CSP (the FHIR API's) keep it.
    Strict-Transport-Security when the request came over https (or base_url is https).
    Cross-Origin-Opener-Policy, Permissions-Policy.
Cors answers preflights and adds Access-Control-Allow-Origin for the origins in the
`cors_origins` setting (comma separated, or `*`). Credentials are never allowed: the API
uses bearer tokens, and the cookie-based pages are not meant to be called cross-origin.
"""

from __future__ import annotations

from typing import Any

PAGE_CSP = (b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
# Every response gets these unless it set them itself.
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
ALLOW_METHODS = b"GET, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS = b"authorization, content-type, accept, if-match, if-none-exist, if-none-match, prefer, x-request-id"
EXPOSE_HEADERS = b"location, content-location, etag, last-modified, x-request-id, www-authenticate"


def security_headers(headers: list[tuple[bytes, bytes]], https: bool) -> None:
    """Add the browser-facing headers to a response's header list, in place (a response that
    sets its own CSP, as the FHIR API does, keeps it). Called from RequestContext's send
    wrapper (web/middleware.py): a middleware layer of its own would cost every request a
    second wrapper and a second pass over the headers."""
    present = {name.lower() for name, _ in headers}
    if b"content-security-policy" not in present:
        headers.append((b"content-security-policy", PAGE_CSP))
    if https:
        headers.append(HSTS)
    for header in SECURITY_HEADERS:
        if header[0] not in present:
            headers.append(header)


class Cors:
    def __init__(self, app: Any, settings: Any):
        self.app = app
        origins = [o.strip() for o in str(settings.cors_origins).split(",") if o.strip()]
        self.any = "*" in origins
        self.origins = {o.rstrip("/").encode() for o in origins if o != "*"}

    def _allowed(self, origin: bytes | None) -> bool:
        return origin is not None and (self.any or origin in self.origins)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not (self.any or self.origins) or scope["path"].startswith("/login"):
            await self.app(scope, receive, send)
            return
        origin = next((v for k, v in scope["headers"] if k == b"origin"), None)
        if not self._allowed(origin):
            await self.app(scope, receive, send)
            return
        allow = [(b"access-control-allow-origin", b"*" if self.any else origin), (b"vary", b"Origin")]
        preflight = scope["method"] == "OPTIONS" and any(k == b"access-control-request-method"
                                                         for k, _ in scope["headers"])
        if preflight:  # Fetch standard, CORS-preflight response
            await send({"type": "http.response.start", "status": 204, "headers": [
                *allow, (b"access-control-allow-methods", ALLOW_METHODS),
                (b"access-control-allow-headers", ALLOW_HEADERS), (b"access-control-max-age", b"600")]})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*(message.get("headers") or ()), *allow,
                                                  (b"access-control-expose-headers", EXPOSE_HEADERS)]}
            await send(message)

        await self.app(scope, receive, send_wrapper)
