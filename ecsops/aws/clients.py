"""Build boto3 clients from --profile/--region with botocore's standard retries, optionally said out loud."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

# Throttling and 5xx are retried inside botocore with backoff; a poll that still fails after that is
# skipped and retried at the next poll, never reported as a failed deploy.
RETRY_MAX_ATTEMPTS = 10

RetryNotice = Callable[[str], None]


# One session per --profile (and AWS_* environment) in a process: a session loads the endpoint data, the
# credential chain and each service's model once, which is most of what a client costs to make (the first ECS
# client about 80 ms, the next ones 2 or 3 ms). The region is given to each client, so a run that resolved its
# region from AWS's answers shares the session its preflight made without one.
_SESSIONS: dict[tuple[str | None, tuple[tuple[str, str], ...]], Any] = {}


def new_session(profile: str | None) -> Any:
    """The boto3 session for --profile, shared by every client this process makes for it; raises botocore's
    ProfileNotFound for an unknown profile. A change of AWS_* environment gives a new session."""
    import boto3

    aws_environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    key = (profile or None, aws_environment)
    session = _SESSIONS.get(key)
    if session is None:
        session = boto3.session.Session(profile_name=profile or None)
        _SESSIONS[key] = session
    return session


def service_model(service: str) -> Any:
    """botocore's model of an AWS API, from the shared session: loaded once with the clients that need it."""
    return new_session(None)._session.get_service_model(service)


def make_client(
    service: str,
    profile: str | None,
    region: str | None,
    retry: bool = True,
    *,
    attempts: int | None = None,
    on_retry: RetryNotice | None = None,
) -> Any:
    """A boto3 client for service; AWS_ENDPOINT_URL (the simulator) is honoured by boto3 itself.

    Use retry=False for calls that are not idempotent (RegisterTaskDefinition, UpdateService): botocore
    would repeat them after a 5xx or a dropped connection, which may have taken effect. Their callers retry
    themselves, asking AWS first whether the call happened. `attempts` caps the total attempts of a call
    (1: a poll loop that retries on its own schedule and says so). `on_retry` is told each time botocore
    is about to send a call again, and why, so a person does not stare at silence while it backs off.
    """
    from botocore.config import Config

    session = new_session(profile)
    if not retry:
        attempts = 1
    if attempts is not None:
        config = Config(retries={"mode": "standard", "total_max_attempts": attempts})
    else:
        config = Config(retries={"mode": "standard", "max_attempts": RETRY_MAX_ATTEMPTS})
    client = session.client(service, region_name=region or None, config=config)
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
