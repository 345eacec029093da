"""Build boto3 clients from --profile/--region with botocore's standard retries."""

from __future__ import annotations

from typing import Any

# Throttling and 5xx are retried inside botocore with backoff; a poll that still fails after that is
# skipped and retried at the next poll, never reported as a failed deploy.
RETRY_MAX_ATTEMPTS = 10

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
