"""OAuth errors: the JSON error responses of RFC 6749 section 5.2 (token endpoint) and
RFC 7591 section 3.2.2 (registration), and the redirect form of section 4.1.2.1.

These are not FHIR errors: OAuth clients expect `{"error": ..., "error_description": ...}`
from the OAuth endpoints. The FHIR endpoint keeps answering with OperationOutcome.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import JSONResponse, RedirectResponse

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 section 5.1


class OAuthError(Exception):
    """error: an RFC 6749 / 7591 error code (invalid_request, invalid_client, invalid_grant,
    unauthorized_client, unsupported_grant_type, invalid_scope, access_denied, ...)."""

    def __init__(self, error: str, description: str, *, status: int = 400):
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> JSONResponse:
        headers = dict(NO_STORE)
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="ehelse"'
        return JSONResponse({"error": self.error, "error_description": self.description},
                            status_code=self.status, headers=headers)

    def redirect(self, redirect_uri: str, state: str | None) -> RedirectResponse:
        """Section 4.1.2.1: once the client and redirect URI are known good, errors go back
        to the client on its redirect URI."""
        params = {"error": self.error, "error_description": self.description}
        if state is not None:
            params["state"] = state
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(params)}", status_code=303)
