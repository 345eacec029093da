"""Durable side effects: record intent, call, record outcome; replay or reconcile on resume."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from machines.crashpoints import crash_point
from machines.errors import CannotReconcile, StepFailed
from store.base import RunStore
from store.models import Fence, StepRecord

ErrorClassifier = Callable[[BaseException], dict[str, Any] | None]
"""Maps an exception to a recorded error when the call is known to have been refused, else None
(outcome unknown: the step stays at intent and is reconciled on resume)."""


@dataclass(frozen=True)
class Reconciled:
    """What a reconcile function learned: did the recorded call already take effect?"""

    happened: bool
    result: Any = None


NOT_HAPPENED = Reconciled(happened=False)

Reconciler = Callable[[StepRecord], Reconciled]
"""Given the step found in flight (its request and when its intent was committed), ask the world
whether the call took effect."""


def never_definite(_: BaseException) -> dict[str, Any] | None:
    return None


class CallGuard(Protocol):
    """The run's hold on its target, as steps need it (machines.lease.Lease)."""

    fence: Fence
    lease_seconds: float

    def before_call(self, step: str) -> None:
        """Raise unless the lock is still ours with margin; called between the intent and the call."""


class StepRunner:
    """Runs named steps of one run against the store."""

    def __init__(self, store: RunStore, run_id: str, classify_error: ErrorClassifier, guard: CallGuard) -> None:
        self._store = store
        self._run_id = run_id
        self._classify_error = classify_error
        self._guard = guard

    def run(
        self,
        name: str,
        request: dict[str, Any],
        call: Callable[[dict[str, Any]], Any],
        *,
        reconcile: Reconciler | None,
    ) -> Any:
        recorded = self._store.get_step(self._run_id, name)
        if recorded is None:
            self._store.record_intent(
                self._run_id, name, request, self._guard.fence,
                lease_seconds=self._guard.lease_seconds, now=time.time(),
            )
            crash_point(f"intent:{name}")
            return self._call(name, request, call)
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
        if reconcile is None:
            raise CannotReconcile(f"step {name} of run {self._run_id} was in flight and cannot be reconciled")
        finding = reconcile(recorded)
        if finding.happened:
            self._store.record_outcome(
                self._run_id, name, "reconciled", self._guard.fence, result=finding.result
            )
            return finding.result
        return self._call(name, request, call)

    def _call(self, name: str, request: dict[str, Any], call: Callable[[dict[str, Any]], Any]) -> Any:
        # The one fencing check before any mutating call: its intent is committed, the lock still ours.
        self._guard.before_call(name)
        try:
            result = call(request)
        except Exception as exc:
            error = self._classify_error(exc)
            if error is None:
                raise
            self._store.record_outcome(self._run_id, name, "failed", self._guard.fence, error=error)
            raise StepFailed(name, error) from exc
        crash_point(f"call:{name}")
        self._store.record_outcome(self._run_id, name, "succeeded", self._guard.fence, result=result)
        return result
