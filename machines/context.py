"""What a state handler sees: the run's inputs, its typed facts, durable steps, deadlines, items, time."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from machines.definition import MachineDefinition
from machines.errors import Interrupted, UndeclaredStep
from machines.lease import Lease
from machines.messages import MessageJournal
from machines.steps import DEFAULT_RETRY, Reconciler, RetryPolicy, StepRunner
from store.base import RunStore
from store.errors import MessageSeqTakenError, StoreBusyError, StoreWriteError
from store.models import NO_CHANGE, UNSET, Fence, ItemRecord, RunMessage, RunRecord, RunUpdate

if TYPE_CHECKING:
    from machines.items import ItemDriver

FactsT = TypeVar("FactsT", bound=BaseModel)


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
    """The live record of one run while a process drives it; shared by engine and context.

    `journal` keeps what is said while driving; it is written with each checkpoint (a follower never sees a
    transition without what was said before it), before each wait, and when the engine stops driving the run.
    `recorded_messages`: how many the store holds already (0 for a new run; None: read when first needed).
    """

    def __init__(
        self, store: RunStore, run: RunRecord, lease: Lease, reporter: Reporter, *, recorded_messages: int | None = 0
    ) -> None:
        self.store = store
        self.run = run
        self.lease = lease
        self.reporter = reporter
        self.journal = MessageJournal(store, run.run_id, lease.fence, recorded=recorded_messages)

    @property
    def fence(self) -> Fence:
        """What every store write of this run proves: the target's lock, at the token we acquired."""
        return self.lease.fence

    def check_lease(self) -> None:
        """Raise if the heartbeat found the lock lost or the store gone (it renews the lease itself)."""
        self.lease.check()

    def update(self, update: RunUpdate) -> None:
        self.run = self.store.update_run(self.run.run_id, self.run.version, self.fence, update)

    def put_item(self, item_id: str, state: str, data: dict[str, Any]) -> ItemRecord:
        return self.store.put_item(self.run.run_id, item_id, state, data, self.fence)

    def checkpoint(
        self,
        source: str,
        dest: str,
        trigger: str,
        item: str | None = None,
        item_data: dict[str, Any] | None = None,
        update: RunUpdate = NO_CHANGE,
    ) -> None:
        """Commit a transition of the run (or of one item) with what was said before it, under the run's fence, in one
        write; report it."""
        said = self.journal.batch()
        try:
            self.run = self._checkpoint(source, dest, trigger, item, item_data, update, said)
        except MessageSeqTakenError:
            self.journal.refused()  # never a reason to stop the run: the transition is written without them
            self.run = self._checkpoint(source, dest, trigger, item, item_data, update, [])
        else:
            self.journal.written(said)
        self.reporter.transition(self.run, source, dest, trigger, item)

    def _checkpoint(
        self,
        source: str,
        dest: str,
        trigger: str,
        item: str | None,
        item_data: dict[str, Any] | None,
        update: RunUpdate,
        said: list[RunMessage],
    ) -> RunRecord:
        return self.store.checkpoint(
            self.run.run_id,
            self.run.version,
            self.fence,
            source=source,
            dest=dest,
            trigger=trigger,
            item=item,
            item_data=item_data,
            update=update,
            messages=said,
        )


class RunContext(Generic[FactsT]):
    """Handed to every state handler. All durable effects go through it."""

    def __init__(
        self,
        session: RunSession,
        definition: MachineDefinition,
        steps: Callable[[RunContext[FactsT]], StepRunner],
        clock: Any,
        stop: threading.Event,
        facts_model: type[FactsT],
        item_driver: ItemDriver | None = None,
    ) -> None:
        self._session = session
        self._definition = definition
        self._item_driver = item_driver
        self._clock = clock
        self._stop = stop
        self._facts_model = facts_model
        self._pending = NO_CHANGE  # facts and reason recorded since the run's last write
        self._steps = steps(self)

    # ---- the run's record ---------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self._session.run.run_id

    @property
    def params(self) -> dict[str, Any]:
        return self._session.run.params

    @property
    def facts(self) -> FactsT:
        """What the operation recorded so far, typed; change it only through record()."""
        return self._facts_model.model_validate(self._recorded_facts())

    def record(self, **changes: Any) -> None:
        """Merge changes into the run's facts (validated against the operation's model).

        They are committed with the run's next write: its next transition, step intent or deadline. A crash
        before that re-runs the state's handler from its start, which learns them again; a fact that must
        outlive the state's handler is therefore recorded before the step or transition that depends on it.
        """
        facts = self._facts_model.model_validate({**self._recorded_facts(), **changes})
        self._pending = replace(self._pending, facts=facts.model_dump(mode="json", exclude_none=True))

    def _recorded_facts(self) -> dict[str, Any]:
        pending = self._pending.facts
        return self._session.run.facts if pending is UNSET else pending

    def set_reason(self, reason: str) -> None:
        """Say why the run ends as it does (or what went wrong); committed like facts."""
        self._pending = replace(self._pending, reason=reason)

    def take_pending(self) -> RunUpdate:
        """The facts and reason recorded since the run's last write, for the engine's next checkpoint."""
        pending, self._pending = self._pending, NO_CHANGE
        return pending

    def flush(self) -> None:
        """Commit what was recorded, now (before a side effect that depends on it)."""
        if self._pending != NO_CHANGE:
            self._session.update(self.take_pending())

    # ---- side effects ---------------------------------------------------------------------
    def step(
        self,
        name: str,
        request: dict[str, Any],
        call: Callable[[dict[str, Any]], Any],
        *,
        reconcile: Reconciler | None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> Any:
        """Run a side effect once across crashes (see machines.steps.StepRunner); the run's state must declare it."""
        state = self._session.run.state
        if not self._definition.declares_step(state, name):
            raise UndeclaredStep(self._definition.name, state, name)
        return self.run_step(name, request, call, reconcile=reconcile, retry=retry)

    def run_step(
        self,
        name: str,
        request: dict[str, Any],
        call: Callable[[dict[str, Any]], Any],
        *,
        reconcile: Reconciler | None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> Any:
        """A step checked by the caller against its own declaration (an item's machine)."""
        self.check_stop()
        self.flush()
        return self._steps.run(name, request, call, reconcile=reconcile, retry=retry)

    # ---- time -------------------------------------------------------------------------------
    def now(self) -> float:
        return float(self._clock.now())

    def deadline(self, name: str, seconds: float) -> float:
        """The absolute deadline named name: fixed when first asked, kept across resumes."""
        timers = self._session.run.timers
        if name not in timers:
            self._session.update(replace(self.take_pending(), timers={**timers, name: self.now() + seconds}))
        return float(self._session.run.timers[name])

    def extend_deadline(self, name: str, seconds: float) -> float:
        """Move the deadline named name later by `seconds` (time that must not count against it, such as a wait
        for a person); committed at once, with what was recorded since the last write."""
        timers = self._session.run.timers
        moved = float(timers.get(name, self.now())) + max(0.0, seconds)
        self._session.update(replace(self.take_pending(), timers={**timers, name: moved}))
        return moved

    def sleep(self, seconds: float) -> None:
        """Wait between polls (the lease is renewed meanwhile by its heartbeat); raises Interrupted on a
        stop request, LockLostError if the lock was lost meanwhile."""
        self.wait(seconds)
        self._session.check_lease()

    def wait(self, seconds: float) -> None:
        """Wait through the run's clock; a stop request ends the wait at once and raises Interrupted. What was said
        before a real wait is written first, so a follower reads it while the run waits (a wait of 0, polling without
        pause, leaves it to the next checkpoint)."""
        self.check_stop()
        if seconds > 0:
            # A busy or momentarily unwritable store keeps the lines for the next write, as the lease's heartbeat
            # retries its renewal: the run's own next write will tell. A lost lock is raised here, as anywhere.
            with contextlib.suppress(StoreBusyError, StoreWriteError):
                self._session.journal.flush()
        self._clock.sleep(seconds, self._stop)
        self.check_stop()

    def check_stop(self) -> None:
        if self._stop.is_set():
            raise Interrupted("stop requested")

    def progress(self, message: str) -> None:
        """Tell the person watching, now; the run's journal records it with the run's next write."""
        self._session.reporter.progress(self._session.run, message)
        self._session.journal.say("progress", message)

    say = progress

    def mark(self, kind: str, text: str, item: str | None = None) -> None:
        """Record a mark on the run's timeline without printing it (kind "stage": a lifecycle stage its deployment
        entered), about one item if given; written with the run's next write, like what handlers say."""
        self._session.journal.say(kind, text, item)

    # ---- items: sub-units with their own machine ------------------------------------------
    def items(self) -> dict[str, ItemRecord]:
        return {item.item_id: item for item in self._session.store.items(self.run_id)}

    def _items(self) -> ItemDriver:
        if self._item_driver is None:
            raise RuntimeError(f"operation {self._session.run.operation} declares no item machine")
        return self._item_driver

    def add_item(self, item_id: str, facts: BaseModel) -> ItemRecord:
        """Register an item at its machine's initial state (an existing item keeps its state)."""
        return self._session.put_item(item_id, self._items().initial, facts.model_dump(mode="json", exclude_none=True))

    def save_item(self, item_id: str, data: dict[str, Any]) -> ItemRecord:
        """Replace an item's facts, keeping its state, with what the run recorded meanwhile (one write each)."""
        self.flush()
        return self._session.put_item(item_id, self._items().initial, data)

    def drive_items(self, observation: Any) -> bool:
        """Move every unfinished item as far as `observation` (this poll's view of the world) allows,
        each through its declared handlers; True if any item changed state."""
        return self._items().drive(self, observation)
