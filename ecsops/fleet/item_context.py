"""A service item seen as a deploy run: deploy's own handlers run on it unchanged, their facts, steps and deadlines
kept in the item's record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ecsops.fleet.facts import ServiceFacts
from machines.items import ItemContext
from machines.steps import DEFAULT_RETRY, Reconciler, RetryPolicy


class ServiceRunContext:
    """What deploy's handlers use of a RunContext, for one service of a fleet.

    - facts are the item's (ServiceFacts, a DeployFacts), recorded with the item's next write;
    - a step `NAME` is the item's durable step `NAME:{item}`, declared by the service machine;
    - deadlines are kept in the item's facts, fixed when first asked;
    - progress lines are prefixed by the service, so a fleet's log reads by service;
    - `run_id` is what its changes are tagged with: the run id and the service's index in the file
      (`RUN_ID/3`: a tag value takes letters, digits, spaces and + - = . _ : / @ only), so two services of one
      run that register the same family never take each other's revision for their own.
    One instance per service and process: deploy's handlers recognise the drive that took their snapshot by it.
    """

    def __init__(self, name: str, index: int) -> None:
        self.name = name
        self.index = index
        self._item: ItemContext[ServiceFacts] | None = None
        # What a handler learned without a write to carry it (it waits for the next round): kept here and staged
        # again on the next round's item, so the service's next write (a transition, a step) records it, as a run
        # records what it learns with its next write. A crash loses only what the next look learns again.
        self._carried: dict[str, Any] = {}

    def bind(self, item: ItemContext[ServiceFacts]) -> ServiceRunContext:
        """Act for this handler call's item context (a new one per call), with what the last call carried."""
        if item is not self._item:
            self._item = item
            if self._carried:
                item.note(**self._carried)
        return self

    def carry(self) -> None:
        """Keep what the bound item learned and did not write for the next round (after a handler waited)."""
        self._carried = dict(self.item.staged)

    def written(self) -> None:
        """The item's last write recorded everything learned: nothing more to carry."""
        self._carried = {}

    @property
    def item(self) -> ItemContext[ServiceFacts]:
        if self._item is None:
            raise RuntimeError(f"service {self.name}: no item bound")
        return self._item

    @property
    def run_id(self) -> str:
        return f"{self.item.run.run_id}/{self.index}"

    @property
    def facts(self) -> ServiceFacts:
        return self.item.facts

    def record(self, **changes: Any) -> None:
        self.item.note(**changes)
        self.item.facts  # noqa: B018 - validated now, as RunContext.record does, not at the write

    def set_reason(self, reason: str) -> None:
        self.item.note(reason=reason)

    def flush(self) -> None:
        self.item.save()

    def step(
        self,
        name: str,
        request: dict[str, Any],
        call: Callable[[dict[str, Any]], Any],
        *,
        reconcile: Reconciler | None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> Any:
        """A durable step of this service: what was recorded before it is committed first, as a run's is."""
        self.item.save()
        return self.item.step(f"{name}:{self.item.item_id}", request, call, reconcile=reconcile, retry=retry)

    def now(self) -> float:
        return self.item.run.now()

    def deadline(self, name: str, seconds: float) -> float:
        timers = self.facts.timers
        if name not in timers:
            self.item.note(timers={**timers, name: self.now() + seconds})
            self.item.save()
        return float(self.facts.timers[name])

    def extend_deadline(self, name: str, seconds: float) -> float:
        timers = self.facts.timers
        moved = float(timers.get(name, self.now())) + max(0.0, seconds)
        self.item.note(timers={**timers, name: moved})
        self.item.save()
        return moved

    def sleep(self, seconds: float) -> None:
        raise RuntimeError(f"service {self.name}: a fleet's service never sleeps; the fleet's poll round waits")

    wait = sleep

    def check_stop(self) -> None:
        self.item.run.check_stop()

    def progress(self, message: str) -> None:
        self.item.run.progress(f"{self.name}: {message}")

    say = progress
