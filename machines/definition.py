"""A machine declared as data: states, transitions, initial and final states, and its version hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transitions import Machine


@dataclass(frozen=True)
class Transition:
    """A trigger that moves the machine from any of `sources` to `dest`."""

    trigger: str
    sources: tuple[str, ...]
    dest: str

    @classmethod
    def of(cls, trigger: str, sources: str | tuple[str, ...] | list[str], dest: str) -> Transition:
        return cls(trigger, (sources,) if isinstance(sources, str) else tuple(sources), dest)


class StateHolder:
    """The plain object transitions drives; pydantic models cannot be transitions models."""

    state: str


@dataclass(frozen=True)
class MachineDefinition:
    """The declaration of one machine. Handlers live beside it, never inside it."""

    name: str
    states: tuple[str, ...]
    initial: str
    transitions: tuple[Transition, ...]
    final_statuses: Mapping[str, str]
    descriptions: Mapping[str, str] = field(default_factory=dict)
    # The durable steps each state's handler may take, by name; `{item}` stands for the item's id.
    steps: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ValueError(f"machine {self.name} is ill-declared: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        problems: list[str] = []
        known = set(self.states)
        if self.initial not in known:
            problems.append(f"initial state {self.initial} is not declared")
        for final in self.final_statuses:
            if final not in known:
                problems.append(f"final state {final} is not declared")
        for transition in self.transitions:
            for state in (*transition.sources, transition.dest):
                if state not in known:
                    problems.append(f"transition {transition.trigger} names unknown state {state}")
            for source in transition.sources:
                if source in self.final_statuses:
                    problems.append(f"final state {source} has outgoing transition {transition.trigger}")
        for state in self.steps:
            if state not in self.non_final_states:
                problems.append(f"steps declared for {state}, which is not a non-final state")
        for state in self.non_final_states:
            if not any(state in t.sources for t in self.transitions):
                problems.append(f"state {state} is neither final nor left by any transition")
        return problems

    @property
    def final_states(self) -> frozenset[str]:
        return frozenset(self.final_statuses)

    @property
    def non_final_states(self) -> tuple[str, ...]:
        return tuple(s for s in self.states if s not in self.final_statuses)

    def declaration(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "states": list(self.states),
            "initial": self.initial,
            "final": dict(sorted(self.final_statuses.items())),
            "transitions": [
                {"trigger": t.trigger, "sources": list(t.sources), "dest": t.dest} for t in self.transitions
            ],
            "steps": {state: list(names) for state, names in sorted(self.steps.items())},
        }

    @property
    def version(self) -> str:
        """Hash of the declaration: a run recorded under another version is not resumed blindly."""
        canonical = json.dumps(self.declaration(), sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()[:16]

    def declares_step(self, state: str, name: str, item: str | None = None) -> bool:
        """Whether `state`'s handler may take the step `name` (for item machines, with `{item}` = item)."""
        return any(template.format(item=item) == name for template in self.steps.get(state, ()))

    def _transition_specs(self) -> list[dict[str, Any]]:
        return [{"trigger": t.trigger, "source": list(t.sources), "dest": t.dest} for t in self.transitions]

    def bind(self, holder: StateHolder, state: str | None = None) -> Machine:
        """A transitions.Machine over holder, restored at state (default: initial)."""
        # Imported here: the declarations alone (their states and statuses) are read by `ecsops runs`.
        from transitions import Machine

        return Machine(
            model=holder,
            states=list(self.states),
            transitions=self._transition_specs(),
            initial=state or self.initial,
            auto_transitions=False,
            send_event=False,
        )

    def fire(self, state: str, trigger: str) -> str:
        """The state `trigger` leads to from `state`; raises InvalidTrigger if it is not declared."""
        holder = StateHolder()
        machine = self.bind(holder, state)
        if trigger not in machine.get_triggers(state):
            raise InvalidTrigger(self.name, state, trigger)
        machine.events[trigger].trigger(holder)
        return holder.state

    def mermaid(self) -> str:
        """The machine as a Mermaid state diagram, rendered by transitions' diagram support."""
        from transitions.extensions import GraphMachine

        holder = StateHolder()
        machine = GraphMachine(
            model=holder,
            states=list(self.states),
            transitions=self._transition_specs(),
            initial=self.initial,
            auto_transitions=False,
            graph_engine="mermaid",
            show_state_attributes=False,
            title=f"{self.name} ({self.version})",
        )
        lines = [line.rstrip() for line in str(machine.get_graph().draw(None)).splitlines()]
        # Drop the styling that marks the *current* state: the picture is of the declaration.
        kept = [line for line in lines if not line.strip().startswith(("classDef", "Class "))]
        for final in self.final_statuses:  # declaration order: the picture must be deterministic
            kept.append(f"  {final} --> [*]")
        return "\n".join(kept).strip() + "\n"


class InvalidTrigger(Exception):
    """A handler returned a trigger its state does not declare."""

    def __init__(self, machine: str, state: str, trigger: str) -> None:
        super().__init__(f"machine {machine}: trigger {trigger!r} is not declared from state {state!r}")
        self.machine = machine
        self.state = state
        self.trigger = trigger
