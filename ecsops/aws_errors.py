"""Which AWS exceptions are definite refusals (recorded on the step) versus unknown outcomes."""

from __future__ import annotations

from typing import Any


def classify_error(exc: BaseException) -> dict[str, Any] | None:
    """A ClientError means AWS answered and refused: record it. Anything else (connection reset,
    read timeout, HTTP 5xx) leaves the outcome unknown, so the step stays in flight and is reconciled."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        if status >= 500:
            return None  # a server error may have taken effect: reconcile, never assume
        error = exc.response.get("Error", {})
        return {
            "type": "ClientError",
            "code": error.get("Code"),
            "message": error.get("Message"),
            "operation": exc.operation_name,
        }
    return None
