"""An operation: its machine declarations bound to handlers, and how a recorded run rebuilds it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from machines.context import RunContext
from machines.definition import MachineDefinition
from machines.items import ItemMachine
from store.models import ItemRecord, RunRecord

Handler = Callable[[RunContext[Any]], str]


class NoFacts(BaseModel):
    """The facts of an operation that records none."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Operation:
    """A machine declaration bound to its handlers (one per non-final state), its typed facts, and
    optionally the machine its items move through.

    `holds`: more targets whose locks the run holds for as long as it runs, besides its own target's (a fleet's
    services); taken in sorted order before its first change and renewed with it. `hold_of_step` maps a durable
    step's name to the hold that step acts on (None: no hold), whose lock is then checked before each call too.
    """

    definition: MachineDefinition
    handlers: Mapping[str, Handler]
    facts: type[BaseModel] = NoFacts
    items: ItemMachine | None = None
    holds: tuple[str, ...] = ()
    hold_of_step: Callable[[str], str | None] | None = None

    def __post_init__(self) -> None:
        missing = set(self.definition.non_final_states) - set(self.handlers)
        extra = set(self.handlers) - set(self.definition.non_final_states)
        if missing or extra:
            raise ValueError(
                f"operation {self.definition.name}: handlers missing for {sorted(missing)}, "
                f"handlers for unknown or final states {sorted(extra)}"
            )

    @property
    def version(self) -> str:
        if self.items is None:
            return self.definition.version
        return f"{self.definition.version}.{self.items.definition.version}"


def _no_extra_fields(run: RunRecord, items: list[ItemRecord]) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class OperationSpec:
    """How to rebuild an operation from a run's recorded params, and what its run document adds."""

    name: str
    definition: MachineDefinition
    build: Callable[[dict[str, Any]], Operation]
    document_fields: Callable[[RunRecord, list[ItemRecord]], dict[str, Any]] = _no_extra_fields
    item_definition: MachineDefinition | None = None
    describe: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


