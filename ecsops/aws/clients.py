"""Build boto3 clients from --profile/--region with botocore's standard retries, optionally said out loud."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Throttling and 5xx are retried inside botocore with backoff; a poll that still fails after that is
# skipped and retried at the next poll, never reported as a failed deploy.
RETRY_MAX_ATTEMPTS = 10

RetryNotice = Callable[[str], None]


def new_session(profile: str | None, region: str | None) -> Any:
    """A boto3 session for --profile/--region; raises botocore's ProfileNotFound for an unknown profile."""
    import boto3

    return boto3.session.Session(profile_name=profile or None, region_name=region or None)


def make_client(
    service: str,
    profile: str | None,
    region: str | None,
    retry: bool = True,
    *,
    attempts: int | None = None,
    on_retry: RetryNotice | None = None,
    session: Any = None,
) -> Any:
    """A boto3 client for service; AWS_ENDPOINT_URL (the simulator) is honoured by boto3 itself.

    Use retry=False for calls that are not idempotent (RegisterTaskDefinition, UpdateService): botocore
    would repeat them after a 5xx or a dropped connection, which may have taken effect. Their callers retry
    themselves, asking AWS first whether the call happened. `attempts` caps the total attempts of a call
    (1: a poll loop that retries on its own schedule and says so). `on_retry` is told each time botocore
    is about to send a call again, and why, so a person does not stare at silence while it backs off.
    `session` (from new_session, for the same profile and region) lets clients share one.
    """
    from botocore.config import Config

    session = session or new_session(profile, region)
    if not retry:
        attempts = 1
    if attempts is not None:
        config = Config(retries={"mode": "standard", "total_max_attempts": attempts})
    else:
        config = Config(retries={"mode": "standard", "max_attempts": RETRY_MAX_ATTEMPTS})
    client = session.client(service, config=config)
    if on_retry is not None:
        _say_retries(client, int(client.meta.config.retries["total_max_attempts"]), on_retry)
    return client


def _say_retries(client: Any, total_attempts: int, on_retry: RetryNotice) -> None:
    """Tell `on_retry` about each failed attempt that botocore will send again.

    Listens last on botocore's `needs-retry` event, which fires after every attempt; it only observes
    (returns None), so botocore's own retry decision and backoff are unchanged.
    """
    from ecsops.aws.errors import is_transient

    service_name = client.meta.service_model.service_name

    def observe(attempts: int = 1, caught_exception: BaseException | None = None, response: Any = None,
                operation: Any = None, **_: Any) -> None:
        failure = _failure(caught_exception, response, is_transient)
        if failure is None or attempts >= total_attempts:
            return
        name = getattr(operation, "name", "call")
        on_retry(f"{service_name} {name} failed ({failure}); retrying "
                 f"(attempt {attempts + 1} of {total_attempts})")

    client.meta.events.register_last(f"needs-retry.{client.meta.service_model.service_id.hyphenize()}", observe)


def _failure(caught: BaseException | None, response: Any, transient: Callable[[BaseException], bool]) -> str | None:
    """What went wrong with one attempt, if it is worth another: a connection error, throttling or a 5xx."""
    if caught is not None:
        return f"{type(caught).__name__}: {caught}" if transient(caught) else None
    if not response or len(response) < 2:
        return None
    http, parsed = response[0], response[1] or {}
    status = int(getattr(http, "status_code", 200))
    error = parsed.get("Error") or {}
    code = error.get("Code")
    from ecsops.aws.errors import THROTTLING_CODES

    if status >= 500 or code in THROTTLING_CODES:
        return f"{code or 'HTTP'} {status}: {error.get('Message') or ''}".strip().rstrip(":")
    return None
