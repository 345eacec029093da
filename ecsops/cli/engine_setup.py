"""The engine as the command line drives it: the run's clock, AWS's error classification, the lease setting."""

from __future__ import annotations

import threading
from typing import Any, cast

from ecsops.cli.lease_setting import lease_seconds
from ecsops.cli.progress import StderrReporter
from machines.clock import Clock, SystemClock
from machines.engine import Engine
from machines.steps import ErrorKind
from store.base import RunStore


def _classify_error(exc: BaseException) -> tuple[ErrorKind, dict[str, Any] | None]:
    from ecsops.aws.errors import classify_error

    kind, record = classify_error(exc)
    return cast("ErrorKind", kind), record


def _clock() -> Clock | None:
    from ecsops.cli.sim_clock import clock_from_environment

    return clock_from_environment()  # type: ignore[return-value]


def run_clock() -> Clock:
    """The time runs keep their deadlines and leases in: the simulator's under ECSOPS_CLOCK=sim, else the
    system's (ValueError when ECSOPS_CLOCK=sim has no simulator to ask)."""
    return _clock() or SystemClock()


def make_engine(
    store: RunStore, reporter: StderrReporter, stop: threading.Event, clock: Clock | None = None
) -> Engine:
    """Raises LeaseSettingError when ECSOPS_LOCK_LEASE_SECONDS is not a positive number."""
    return Engine(
        store,
        clock=clock or _clock(),
        reporter=reporter,
        classify_error=_classify_error,
        lease_seconds=lease_seconds(),
        stop=stop,
    )


def reporter_and_engine(store: RunStore, stop: threading.Event, quiet: bool) -> tuple[StderrReporter, Engine]:
    """One clock for both: the progress stamps and the run's deadlines and elapsed times agree."""
    clock = run_clock()
    reporter = StderrReporter(quiet=quiet, clock=clock)
    return reporter, make_engine(store, reporter, stop, clock)
