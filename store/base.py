"""The store interface: what the engine and CLI may ask of any backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from store.models import (
    ItemRecord,
    LockRecord,
    RunFilter,
    RunRecord,
    StepRecord,
    StepStatus,
    TransitionRecord,
)


class RunStore(ABC):
    """Durable record of runs. Implementations must make each method atomic."""

    # runs
    @abstractmethod
    def create_run(self, run: RunRecord) -> None: ...

    @abstractmethod
    def get_run(self, run_id: str) -> RunRecord: ...

    @abstractmethod
    def find_run(self, run_id: str) -> RunRecord | None: ...

    @abstractmethod
    def list_runs(self, run_filter: RunFilter) -> list[RunRecord]: ...

    @abstractmethod
    def update_run(self, run_id: str, expected_version: int, **fields: Any) -> RunRecord:
        """Set fields (status, data, error, finished_at...) if the run is still at expected_version."""

    @abstractmethod
    def checkpoint(
        self,
        run_id: str,
        expected_version: int,
        *,
        source: str,
        dest: str,
        trigger: str,
        item: str | None = None,
        item_data: dict[str, Any] | None = None,
        **run_fields: Any,
    ) -> RunRecord:
        """Append a transition and move the run (or one item) to dest, in one transaction."""

    # transitions and items
    @abstractmethod
    def transitions(self, run_id: str) -> list[TransitionRecord]: ...

    @abstractmethod
    def items(self, run_id: str) -> list[ItemRecord]: ...

    @abstractmethod
    def put_item(self, run_id: str, item_id: str, state: str, data: dict[str, Any]) -> ItemRecord:
        """Create an item, or replace its data keeping its state when it exists."""

    # steps
    @abstractmethod
    def get_step(self, run_id: str, name: str) -> StepRecord | None: ...

    @abstractmethod
    def steps(self, run_id: str) -> list[StepRecord]: ...

    @abstractmethod
    def record_intent(self, run_id: str, name: str, request: dict[str, Any]) -> StepRecord: ...

    @abstractmethod
    def record_outcome(
        self,
        run_id: str,
        name: str,
        status: StepStatus,
        *,
        result: Any = None,
        error: dict[str, Any] | None = None,
    ) -> StepRecord: ...

    # locks
    @abstractmethod
    def acquire_lock(
        self,
        target: str,
        run_id: str,
        owner: str,
        lease_seconds: float,
        now: float,
        *,
        take_over_owner: bool = False,
    ) -> LockRecord:
        """Take or renew the target's lock for run_id driven by owner.

        Raises LockHeldError when another run holds an unexpired lease, or when the same run is
        driven by another owner with an unexpired lease and take_over_owner is false.
        """

    @abstractmethod
    def release_lock(self, target: str, run_id: str) -> None: ...

    @abstractmethod
    def get_lock(self, target: str) -> LockRecord | None: ...

    @abstractmethod
    def close(self) -> None: ...
