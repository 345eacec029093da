"""Build boto3 clients from --profile/--region with botocore's standard retries; tell transient errors apart."""

from __future__ import annotations

from typing import Any

# Throttling and 5xx are retried inside botocore with backoff; a poll that still fails after that is
# skipped and retried at the next poll, never reported as a failed deploy.
RETRY_MAX_ATTEMPTS = 10

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


def make_client(service: str, profile: str | None, region: str | None, retry: bool = True) -> Any:
    """A boto3 client for service; AWS_ENDPOINT_URL (the simulator) is honoured by boto3 itself.

    Use retry=False for calls that are not idempotent (RegisterTaskDefinition, UpdateService): botocore
    would repeat them after a 5xx or a dropped connection, which may have taken effect. Their callers retry
    themselves, asking AWS first whether the call happened.
    """
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(profile_name=profile or None, region_name=region or None)
    if retry:
        config = Config(retries={"mode": "standard", "max_attempts": RETRY_MAX_ATTEMPTS})
    else:
        config = Config(retries={"mode": "standard", "total_max_attempts": 1})
    return session.client(service, config=config)  # type: ignore[call-overload]


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
