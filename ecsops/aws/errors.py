"""The one classification of AWS errors: throttled, transient, a definite refusal, or an unknown outcome."""

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


THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)


def is_throttling(exc: BaseException) -> bool:
    """True when AWS refused the call for its rate: it did not happen and can simply be sent again."""
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in THROTTLING_CODES


def is_transient(exc: BaseException) -> bool:
    """True for throttling, HTTP 5xx and connection trouble: worth trying again later."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
        return status >= 500 or exc.response.get("Error", {}).get("Code") in THROTTLING_CODES
    return isinstance(exc, EndpointConnectionError | ConnectionClosedError | ReadTimeoutError | ConnectTimeoutError)
