"""What this process wrote about the runs it created, so it need not read them back from DynamoDB.

A run created by this process is written only by it while its fence holds: any other writer would first
have to take the lock, and this process's next write would then be refused. So the transitions, steps,
items and messages of such a run are the ones this process recorded (the engine's step lookups and a
replacement's polls of its items need no read), and once its final checkpoint is written the run never changes
again (a finished run is neither resumed nor abandoned), so its whole history is what this process wrote. A
write that failed in any way, or one made without the run's fence, makes the run's journal untrusted: reads of
it go to the table again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from store.models import ItemRecord, RunHistory, RunMessage, RunRecord, StepRecord, TransitionRecord


@dataclass
class _Journal:
    transitions: list[TransitionRecord] = field(default_factory=list)
    steps: dict[str, StepRecord] = field(default_factory=dict)
    items: dict[str, ItemRecord] = field(default_factory=dict)
    messages: list[RunMessage] = field(default_factory=list)


class Journals:
    """The journals of the runs this process created. Thread-safe."""

    def __init__(self) -> None:
        self._journals: dict[str, _Journal] = {}
        self._lock = threading.Lock()

    def created(self, run_id: str) -> None:
        with self._lock:
            self._journals[run_id] = _Journal()

    def knows(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._journals

    def distrust(self, run_id: str) -> None:
        with self._lock:
            self._journals.pop(run_id, None)

    def step(self, run_id: str, name: str) -> StepRecord | None:
        with self._lock:
            journal = self._journals.get(run_id)
            return None if journal is None else journal.steps.get(name)

    def item(self, run_id: str, item_id: str) -> ItemRecord | None:
        with self._lock:
            journal = self._journals.get(run_id)
            return None if journal is None else journal.items.get(item_id)

    def wrote_step(self, step: StepRecord) -> None:
        with self._lock:
            if step.run_id in self._journals:
                self._journals[step.run_id].steps[step.name] = step

    def wrote_item(self, item: ItemRecord) -> None:
        with self._lock:
            if item.run_id in self._journals:
                self._journals[item.run_id].items[item.item_id] = item

    def wrote_transition(self, transition: TransitionRecord) -> None:
        with self._lock:
            if transition.run_id in self._journals:
                self._journals[transition.run_id].transitions.append(transition)

    def wrote_messages(self, run_id: str, messages: list[RunMessage]) -> None:
        with self._lock:
            if run_id in self._journals:
                self._journals[run_id].messages.extend(messages)

    def transitions(self, run_id: str) -> list[TransitionRecord] | None:
        with self._lock:
            journal = self._journals.get(run_id)
            return None if journal is None else list(journal.transitions)

    def steps(self, run_id: str) -> list[StepRecord] | None:
        with self._lock:
            journal = self._journals.get(run_id)
            return None if journal is None else list(journal.steps.values())

    def items(self, run_id: str) -> list[ItemRecord] | None:
        with self._lock:
            journal = self._journals.get(run_id)
            return None if journal is None else list(journal.items.values())

    def history(self, run: RunRecord) -> RunHistory | None:
        """The whole history of a finished run this process created and wrote to the end, else None."""
        with self._lock:
            journal = self._journals.get(run.run_id)
            if journal is None or not run.finished:
                return None
            return RunHistory(
                run=run,
                transitions=list(journal.transitions),
                steps=list(journal.steps.values()),
                items=list(journal.items.values()),
                messages=list(journal.messages),
            )

    def clear(self) -> None:
        with self._lock:
            self._journals.clear()
