"""ECSOPS_LOCK_LEASE_SECONDS: how long a run's hold on its target lasts without a heartbeat."""

from __future__ import annotations

import math
import os

from machines.engine import DEFAULT_LEASE_SECONDS

LEASE_ENV = "ECSOPS_LOCK_LEASE_SECONDS"


class LeaseSettingError(ValueError):
    """ECSOPS_LOCK_LEASE_SECONDS is not a positive number of seconds."""


def lease_seconds() -> float:
    raw = os.environ.get(LEASE_ENV)
    if raw is None:
        return DEFAULT_LEASE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise LeaseSettingError(f"{LEASE_ENV}={raw!r}: expected a number of seconds above 0 (default 300)")
    return value
