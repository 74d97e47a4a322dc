"""API errors in the real wire format.

Body: ``{"type": "error", "error": {"type", "message", "details"?}, "request_id": "req_…"}`` with a
``request-id`` header (reference §0). The SDK picks its exception class from
``(status, error.details.error_code)``, so ``details.error_code`` is what makes e.g.
``FileNotDownloadableError`` or ``ThreadUnsupportedRequestError`` appear on the client side.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import ids

# The error `type` the real API pairs with each status. 413's `request_too_large` is documented
# (platform docs "Errors") but missing from the SDK's `ErrorType` literal; validation allow-lists it.
ERROR_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

DEFAULT_MESSAGES: Mapping[int, str] = {
    401: "invalid x-api-key",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "This request would exceed your organization's rate limit. Please try again later.",
    500: "Internal server error",
    503: "Service unavailable",
    504: "Request timed out",
    529: "Overloaded",
}


class ApiError(Exception):
    """An error the emulator answers with instead of a normal body.

    Raised anywhere while handling a request; the server turns it into the JSON error response (or an
    ``event: error`` if the SSE stream has already started).
    """

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        error_type: str | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.error_type = error_type or ERROR_TYPES.get(status, "api_error")
        self.message = message if message is not None else DEFAULT_MESSAGES.get(status, "Error")
        self.details = dict(details) if details else None
        self.headers = dict(headers or {})
        super().__init__(f"{status} {self.error_type}: {self.message}")

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"type": "error", "error": error, "request_id": request_id}


def invalid_request(message: str, *, error_code: str | None = None, **details: Any) -> ApiError:
    """400 ``invalid_request_error`` — the API's answer to any malformed request."""
    det = {"error_code": error_code, **details} if error_code else None
    return ApiError(400, message, details=det)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def new_request_id() -> str:
    return ids.request_id()
