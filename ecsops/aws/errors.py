"""The one classification of AWS errors: throttled, transient, a definite refusal, or an unknown outcome."""

from __future__ import annotations

from typing import Any

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


def classify_error(exc: BaseException) -> tuple[str, dict[str, Any] | None]:
    """What an exception from an AWS call means for a durable step (machines.steps.ErrorKind):
    `throttled` (AWS refused for its rate: the call did not happen), `unknown` (HTTP 5xx, reset, timeout: it may
    have taken effect, so ask AWS before sending it again), `refused` (AWS answered no: recorded with the step),
    or `foreign` (not an AWS error: a bug, left to propagate)."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
        record = {
            "type": "ClientError",
            "code": error.get("Code"),
            "message": error.get("Message"),
            "operation": exc.operation_name,
        }
        if error.get("Code") in THROTTLING_CODES:
            return "throttled", record
        if status >= 500:
            return "unknown", None
        return "refused", record
    if is_transient(exc):
        return "unknown", None
    return "foreign", None
