"""A Clock that reads and advances the simulator's virtual time, so waits against it are instant."""

from __future__ import annotations

import json
import os
import threading
import time

CLOCK_ENV = "ECSOPS_CLOCK"


class SimClock:
    """Virtual time of the ecsops simulator at AWS_ENDPOINT_URL (its /_ecsops/clock endpoints)."""

    def __init__(self, endpoint_url: str) -> None:
        self._base = endpoint_url.rstrip("/")

    def _call(self, path: str, body: dict[str, float] | None = None) -> float:
        import urllib.request  # here: `status` and `runs` import this module and stay light

        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self._base}{path}",
            data=data,
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return float(json.load(response)["now"])

    def now(self) -> float:
        return self._call("/_ecsops/clock")

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        if seconds > 0 and not stop.is_set():
            self._call("/_ecsops/clock/advance", {"seconds": seconds})


def clock_from_environment() -> object | None:
    """A SimClock when ECSOPS_CLOCK=sim (tests, demo); None means the real clock."""
    if os.environ.get(CLOCK_ENV) != "sim":
        return None
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        raise ValueError("ECSOPS_CLOCK=sim needs AWS_ENDPOINT_URL pointing at `ecsops sim serve`")
    return SimClock(endpoint)


def lease_now() -> float:
    """Now, in the time runs keep their leases in (machines.engine.Engine's clock): the simulator's under
    ECSOPS_CLOCK=sim, else the system's. For judging a lock that someone else holds."""
    try:
        clock = clock_from_environment()
    except ValueError:  # a run could not have started so: its lease is in the system's time
        clock = None
    return clock.now() if isinstance(clock, SimClock) else time.time()
