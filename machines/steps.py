"""Durable side effects: record intent, call, record outcome; retry by one policy; replay or reconcile on resume."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from machines.crashpoints import crash_point
from machines.errors import CannotReconcile, StepFailed, StepUnsettled
from store.base import RunStore
from store.models import Fence, StepRecord

ErrorKind = Literal["refused", "throttled", "unknown", "foreign"]
"""What an exception from a call means for its step:
- refused: the service answered no; recorded on the step, never retried;
- throttled: the service refused for its rate; the call did not happen and may simply be sent again;
- unknown: the call may or may not have taken effect (5xx, reset, timeout); ask the world before sending again;
- foreign: not an error of the service at all (a bug): it propagates untouched."""

ErrorClassifier = Callable[[BaseException], tuple[ErrorKind, dict[str, Any] | None]]
"""Maps an exception to its kind and, for a refusal, the error to record with the step."""


def everything_foreign(_: BaseException) -> tuple[ErrorKind, dict[str, Any] | None]:
    return "foreign", None


@dataclass(frozen=True)
class Reconciled:
    """What a reconcile function learned: did the recorded call already take effect?"""

    happened: bool
    result: Any = None


NOT_HAPPENED = Reconciled(happened=False)

Reconciler = Callable[[StepRecord], Reconciled]
"""Given the step found in flight (its request and when its intent was committed), ask the world
whether the call took effect."""


@dataclass(frozen=True)
class RetryPolicy:
    """Which errors a step sends again, how often, and how long it waits between attempts.

    Waits go through the run's clock and stop event, so Ctrl-C ends a backoff at once and the simulator's
    virtual time makes it instant. An `unknown` outcome is never sent again before the step's reconcile
    says the call did not happen.
    """

    attempts: int = 8
    first_backoff: float = 1.0
    max_backoff: float = 20.0
    retries: frozenset[ErrorKind] = frozenset({"throttled", "unknown"})

    def backoff(self, attempt: int) -> float:
        return float(min(self.max_backoff, self.first_backoff * 2 ** (attempt - 1)))


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1, retries=frozenset())


class Waiter(Protocol):
    """How a step waits between attempts and says so: the run's clock, stop event and progress."""

    def wait(self, seconds: float) -> None: ...

    def say(self, message: str) -> None: ...


class CallGuard(Protocol):
    """The run's hold on its target, as steps need it (machines.lease.Lease)."""

    fence: Fence
    lease_seconds: float

    def before_call(self, step: str) -> None:
        """Raise unless the lock is still ours with margin; called between the intent and the call."""

    def now(self) -> float:
        """Now, in the time the lease is kept in."""


class StepRunner:
    """Runs named steps of one run against the store."""

    def __init__(
        self, store: RunStore, run_id: str, classify_error: ErrorClassifier, waiter: Waiter, guard: CallGuard
    ) -> None:
        self._store = store
        self._run_id = run_id
        self._classify_error = classify_error
        self._waiter = waiter
        self._guard = guard

    def run(
        self,
        name: str,
        request: dict[str, Any],
        call: Callable[[dict[str, Any]], Any],
        *,
        reconcile: Reconciler | None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> Any:
        recorded = self._store.get_step(self._run_id, name)
        if recorded is None:
            recorded = self._store.record_intent(
                self._run_id, name, request, self._guard.fence,
                lease_seconds=self._guard.lease_seconds, now=self._guard.now(),
            )
            crash_point(f"intent:{name}")
            return self._call(recorded, call, reconcile, retry)
        if recorded.request != request:
            raise CannotReconcile(
                f"step {name} of run {self._run_id} was recorded with another request; "
                "the run's inputs changed since it was started"
            )
        if recorded.status in ("succeeded", "reconciled"):
            return recorded.result
        if recorded.status == "failed":
            raise StepFailed(name, recorded.error or {})
        # Found in flight: the process died between intent and outcome. Ask AWS, never repeat blindly.
        if self._reconciled(recorded, reconcile):
            return self._store.get_step(self._run_id, name).result  # type: ignore[union-attr]
        return self._call(recorded, call, reconcile, retry)

    def _reconciled(self, step: StepRecord, reconcile: Reconciler | None) -> bool:
        if reconcile is None:
            raise CannotReconcile(f"step {step.name} of run {self._run_id} was in flight and cannot be reconciled")
        finding = reconcile(step)
        if finding.happened:
            self._store.record_outcome(
                self._run_id, step.name, "reconciled", self._guard.fence, result=finding.result
            )
        return finding.happened

    def _call(
        self,
        step: StepRecord,
        call: Callable[[dict[str, Any]], Any],
        reconcile: Reconciler | None,
        retry: RetryPolicy,
    ) -> Any:
        name, request = step.name, step.request
        for attempt in range(1, retry.attempts + 1):
            # The fencing check before every attempt: the intent is committed and the lock still ours.
            self._guard.before_call(name)
            try:
                result = call(request)
            except Exception as exc:
                kind, error = self._classify_error(exc)
                if kind == "foreign":
                    raise
                if kind == "refused":
                    self._store.record_outcome(self._run_id, name, "failed", self._guard.fence, error=error)
                    raise StepFailed(name, error or {}) from exc
                if kind not in retry.retries or attempt == retry.attempts:
                    raise StepUnsettled(name, attempt, exc) from exc
                delay = retry.backoff(attempt)
                self._waiter.say(f"{name}: {type(exc).__name__}: {exc}; trying again in {delay:g}s")
                self._waiter.wait(delay)
                if kind == "unknown" and self._reconciled(step, reconcile):
                    return self._store.get_step(self._run_id, name).result  # type: ignore[union-attr]
                continue
            crash_point(f"call:{name}")
            self._store.record_outcome(self._run_id, name, "succeeded", self._guard.fence, result=result)
            return result
        raise AssertionError("unreachable")

