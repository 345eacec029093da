"""Items: sub-units of a run (one container instance, say), each moved through its own declared machine."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic

from pydantic import BaseModel

from machines.context import FactsT
from machines.crashpoints import crash_point
from machines.definition import MachineDefinition
from machines.errors import UndeclaredStep
from machines.steps import DEFAULT_RETRY, Reconciler, RetryPolicy
from store.models import ItemRecord

if TYPE_CHECKING:
    from machines.context import RunContext, RunSession


class ItemContext(Generic[FactsT]):
    """What an item handler sees: its item and typed facts, this poll's observation, its siblings, the run."""

    def __init__(
        self,
        run: RunContext[Any],
        definition: MachineDefinition,
        record: ItemRecord,
        facts_model: type[FactsT],
        observation: Any,
        siblings: Mapping[str, ItemRecord],
    ) -> None:
        self.run = run
        self._definition = definition
        self.item_id = record.item_id
        self.state = record.state
        self.observation = observation
        self.siblings = siblings
        self._record = record
        self._facts_model = facts_model
        self.staged: dict[str, Any] = {}

    @property
    def facts(self) -> FactsT:
        return self._facts_model.model_validate({**self._record.data, **self.staged})

    def step(
        self,
        name: str,
        request: dict[str, Any],
        call: Callable[[dict[str, Any]], Any],
        *,
        reconcile: Reconciler | None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> Any:
        """A durable step of this item; its state must declare it (machines.definition steps, `{item}`)."""
        if not self._definition.declares_step(self.state, name, self.item_id):
            raise UndeclaredStep(self._definition.name, self.state, name)
        return self.run.run_step(name, request, call, reconcile=reconcile, retry=retry)

    def note(self, **changes: Any) -> None:
        """Stage fact changes; they are committed with the transition the handler's trigger fires."""
        self.staged.update(changes)

    def save(self) -> None:
        """Commit the staged facts now, the item staying in its state: before a step that depends on them, or
        when the handler waits for the next observation with something learned (the trigger's write is then none)."""
        if self.staged:
            saved = self.run.save_item(self.item_id, self.facts.model_dump(mode="json", exclude_none=True))
            self._record, self.staged = replace(self._record, data=saved.data), {}


ItemHandler = Callable[[ItemContext[Any]], str | None]
"""Does the I/O of one item state and returns its trigger, or None to wait for the next observation."""


@dataclass(frozen=True)
class ItemMachine:
    """An item's machine bound to its handlers and facts model: declared like a run's, driven by the engine."""

    definition: MachineDefinition
    handlers: Mapping[str, ItemHandler]
    facts: type[BaseModel]
    # Triggers after which the item waits for the next observation instead of running its new state at once.
    waits_after: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        missing = set(self.definition.non_final_states) - set(self.handlers)
        extra = set(self.handlers) - set(self.definition.non_final_states)
        triggers = {t.trigger for t in self.definition.transitions}
        if missing or extra or not self.waits_after <= triggers:
            raise ValueError(
                f"item machine {self.definition.name}: handlers missing for {sorted(missing)}, handlers for "
                f"unknown or final states {sorted(extra)}, unknown waits_after {sorted(self.waits_after - triggers)}"
            )


class ItemDriver:
    """Moves a run's items through their machine: the one loop for items, beside the engine's for runs."""

    def __init__(self, machine: ItemMachine, session: RunSession) -> None:
        self.machine = machine
        self._session = session

    @property
    def initial(self) -> str:
        return self.machine.definition.initial

    def drive(self, run: RunContext[Any], observation: Any) -> bool:
        definition = self.machine.definition
        items = run.items()
        changed = False
        for item_id in list(items):
            while items[item_id].state not in definition.final_states:
                current = items[item_id]
                context = ItemContext(run, definition, current, self.machine.facts, observation, items)
                trigger = self.machine.handlers[current.state](context)
                if trigger is None:
                    break
                items[item_id] = self._fire(current, trigger, context)
                changed = True
                if trigger in self.machine.waits_after:
                    break
        return changed

    def _fire(self, current: ItemRecord, trigger: str, context: ItemContext[Any]) -> ItemRecord:
        dest = self.machine.definition.fire(current.state, trigger)
        data = context.facts.model_dump(mode="json", exclude_none=True)
        pending = context.run.take_pending()  # the run's own facts recorded meanwhile go with this write
        self._session.checkpoint(current.state, dest, trigger, item=current.item_id, item_data=data, update=pending)
        crash_point(f"item-checkpoint:{dest}")
        return replace(current, state=dest, data=data)
