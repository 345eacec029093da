"""What a state handler sees: the run's inputs and record, durable steps, deadlines, items, time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from machines.crashpoints import crash_point
from machines.definition import MachineDefinition
from machines.errors import Interrupted
from machines.lease import Lease
from machines.steps import Reconciler, StepRunner
from store.base import RunStore
from store.models import Fence, ItemRecord, RunRecord


class Reporter(Protocol):
    """Where the engine tells a human what is happening; machines never print."""

    def transition(self, run: RunRecord, source: str, dest: str, trigger: str, item: str | None) -> None: ...

    def progress(self, run: RunRecord, message: str) -> None: ...


class NullReporter:
    def transition(self, run: RunRecord, source: str, dest: str, trigger: str, item: str | None) -> None:
        return None

    def progress(self, run: RunRecord, message: str) -> None:
        return None


class RunSession:
    """The live record of one run while a process drives it; shared by engine and context."""

    def __init__(
        self,
        store: RunStore,
        run: RunRecord,
        lease: Lease,
        reporter: Reporter,
        item_definition: MachineDefinition | None,
    ) -> None:
        self.store = store
        self.run = run
        self.lease = lease
        self.reporter = reporter
        self.item_definition = item_definition

    @property
    def fence(self) -> Fence:
        """What every store write of this run proves: the target's lock, at the token we acquired."""
        return self.lease.fence

    def check_lease(self) -> None:
        """Raise if the heartbeat found the lock lost or the store gone (it renews the lease itself)."""
        self.lease.check()

    def update(self, **fields: Any) -> None:
        self.run = self.store.update_run(self.run.run_id, self.run.version, self.fence, **fields)

    def put_item(self, item_id: str, state: str, data: dict[str, Any]) -> ItemRecord:
        return self.store.put_item(self.run.run_id, item_id, state, data, self.fence)

    def checkpoint(
        self,
        source: str,
        dest: str,
        trigger: str,
        item: str | None = None,
        item_data: dict[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        """Commit a transition of the run (or of one item) under the run's fence, and report it."""
        self.run = self.store.checkpoint(
            self.run.run_id,
            self.run.version,
            self.fence,
            source=source,
            dest=dest,
            trigger=trigger,
            item=item,
            item_data=item_data,
            **fields,
        )
        self.reporter.transition(self.run, source, dest, trigger, item)


class RunContext:
    """Handed to every state handler. All durable effects go through it."""

    def __init__(self, session: RunSession, steps: StepRunner, clock: Any, stop: threading.Event) -> None:
        self._session = session
        self._steps = steps
        self._clock = clock
        self._stop = stop

    # ---- the run's record ---------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self._session.run.run_id

    @property
    def params(self) -> dict[str, Any]:
        return self._session.run.params

    @property
    def data(self) -> dict[str, Any]:
        """The operation's recorded facts (rollback target, deployment id...). Read-only view."""
        return dict(self._session.run.facts)

    def record(self, **facts: Any) -> None:
        """Merge facts into the run's facts, committed now."""
        reason = facts.pop("reason", None)
        fields: dict[str, Any] = {"facts": {**self._session.run.facts, **facts}}
        if reason is not None:
            fields["reason"] = reason
        self._session.update(**fields)

    # ---- side effects ---------------------------------------------------------------------
    def step(
        self,
        name: str,
        request: dict[str, Any],
        call: Callable[[dict[str, Any]], Any],
        *,
        reconcile: Reconciler | None,
    ) -> Any:
        """Run a side effect once across crashes; see machines.steps.StepRunner."""
        self.check_stop()
        return self._steps.run(name, request, call, reconcile=reconcile)

    # ---- time -------------------------------------------------------------------------------
    def now(self) -> float:
        return float(self._clock.now())

    def deadline(self, name: str, seconds: float) -> float:
        """The absolute deadline named name: fixed when first asked, kept across resumes."""
        timers = self._session.run.timers
        if name not in timers:
            self._session.update(timers={**timers, name: self.now() + seconds})
        return float(self._session.run.timers[name])

    def sleep(self, seconds: float) -> None:
        """Wait between polls (the lease is renewed meanwhile by its heartbeat); raises Interrupted on a
        stop request, LockLostError if the lock was lost meanwhile."""
        self.check_stop()
        self._clock.sleep(seconds, self._stop)
        self.check_stop()
        self._session.check_lease()

    def check_stop(self) -> None:
        if self._stop.is_set():
            raise Interrupted("stop requested")

    def progress(self, message: str) -> None:
        self._session.reporter.progress(self._session.run, message)

    # ---- items: sub-units with their own checkpointed state --------------------------------
    def _item_definition(self) -> MachineDefinition:
        if self._session.item_definition is None:
            raise RuntimeError(f"operation {self._session.run.operation} declares no item machine")
        return self._session.item_definition

    def items(self) -> dict[str, ItemRecord]:
        return {item.item_id: item for item in self._session.store.items(self.run_id)}

    def add_item(self, item_id: str, data: dict[str, Any]) -> ItemRecord:
        """Register an item at its machine's initial state (existing items keep their state)."""
        definition = self._item_definition()
        return self._session.put_item(item_id, definition.initial, data)

    def fire_item(self, item_id: str, trigger: str, data: dict[str, Any] | None = None) -> str:
        """Move one item by trigger, checkpointed like a run transition; returns its new state."""
        definition = self._item_definition()
        current = self.items()[item_id]
        dest = definition.fire(current.state, trigger)
        merged = {**current.data, **(data or {})}
        self._session.checkpoint(current.state, dest, trigger, item=item_id, item_data=merged)
        crash_point(f"item-checkpoint:{dest}")
        return dest
