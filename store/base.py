"""The store interface: what the engine and CLI may ask of any backend (the fenced RunStore contract).

Times are epoch seconds from the caller's clock (`now`), so tests control them. Every method is atomic.
Every write of a run is fenced: it happens, in the same transaction, only if the target's lock row still
has the fence's run_id and token (expiry is not part of the condition: an expired but untaken lock still
holds). Otherwise it raises LockLostError and writes nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from store.models import (
    NO_CHANGE,
    Fence,
    ItemRecord,
    LockRecord,
    RunFilter,
    RunHistory,
    RunMessage,
    RunNote,
    RunRecord,
    RunUpdate,
    StepRecord,
    StepStatus,
    TransitionRecord,
)


class RunStore(ABC):
    """Durable record of runs and the locks of their targets."""

    # ---- runs (fenced writes) ------------------------------------------------------------------
    @abstractmethod
    def create_run(self, run: RunRecord, fence: Fence) -> None:
        """Insert a new run (ValueError if its id exists) while fence holds."""

    @abstractmethod
    def update_run(self, run_id: str, expected_version: int, fence: Fence | None, update: RunUpdate) -> RunRecord:
        """Apply update if the run is still at expected_version (ConcurrentUpdateError otherwise).

        fence=None only for administrative writes: abandon, or recording that the run lost its lock to
        another run. The version check applies either way.
        """

    @abstractmethod
    def checkpoint(
        self,
        run_id: str,
        expected_version: int,
        fence: Fence,
        *,
        source: str,
        dest: str,
        trigger: str,
        item: str | None = None,
        item_data: dict[str, Any] | None = None,
        update: RunUpdate = NO_CHANGE,
        messages: Sequence[RunMessage] = (),
    ) -> RunRecord:
        """Append a transition and move the run (or one item) to dest, applying update to the run, in one
        transaction, with the messages said before it (as append_messages would write them: a follower never
        sees the transition without them; MessageSeqTakenError, and nothing written, for a seq already taken)."""

    @abstractmethod
    def put_item(
        self, run_id: str, item_id: str, state: str, data: dict[str, Any], fence: Fence
    ) -> ItemRecord:
        """Create an item, or replace its data keeping its state when it exists."""

    # ---- steps (fenced writes) -----------------------------------------------------------------
    @abstractmethod
    def record_intent(
        self,
        run_id: str,
        name: str,
        request: dict[str, Any],
        fence: Fence,
        *,
        lease_seconds: float,
        now: float,
    ) -> StepRecord:
        """Commit a step at `intent` and renew the lease to now + lease_seconds, in one transaction."""

    @abstractmethod
    def record_outcome(
        self,
        run_id: str,
        name: str,
        status: StepStatus,
        fence: Fence,
        *,
        result: Any = None,
        error: dict[str, Any] | None = None,
    ) -> StepRecord: ...

    # ---- notes (unfenced, append-only) ----------------------------------------------------------
    @abstractmethod
    def add_note(self, run_id: str, kind: str, text: str, who: str) -> RunNote:
        """Append a note to the run's audit trail, with the next seq of that run (1 for its first).

        Not fenced: a note never changes the run's state, so someone other than the run's driver (which may
        hold the lock at that moment) can write it. RunNotFoundError for an unknown run. Never overwrites:
        concurrent writers each get their own seq.
        """

    @abstractmethod
    def notes(self, run_id: str) -> list[RunNote]:
        """The run's notes, oldest (seq 1) first."""

    # ---- messages: the driver's journal (fenced, append-only) ------------------------------------
    @abstractmethod
    def append_messages(self, run_id: str, messages: Sequence[RunMessage], fence: Fence) -> None:
        """Append lines to the run's journal while fence holds (LockLostError otherwise), all or none.

        The driver numbers them (seq from 1, without gaps): a seq the run already has is refused
        (MessageSeqTakenError, a ValueError) and nothing is written. An empty list sends nothing. A backend
        whose one transaction is bounded may write a long list in several, each fenced: a failure then leaves
        a prefix of the list written, never a gap.
        """

    @abstractmethod
    def messages(self, run_id: str, after_seq: int = 0) -> list[RunMessage]:
        """The run's journal lines with seq > after_seq, oldest first (what a follower has not seen yet)."""

    # ---- moving history (store copy) ------------------------------------------------------------
    @abstractmethod
    def import_history(self, history: RunHistory) -> bool:
        """Write a whole run (its record, transitions, steps, items, notes and messages as they are) if no run has
        its id.

        Returns True when written, False when the id was already there (nothing is changed then). A reader
        never sees the run without its history. Locks are not part of a history: a copied run is free.
        """

    # ---- reads (unfenced) ----------------------------------------------------------------------
    @abstractmethod
    def get_run(self, run_id: str) -> RunRecord: ...

    @abstractmethod
    def find_run(self, run_id: str) -> RunRecord | None: ...

    @abstractmethod
    def list_runs(self, run_filter: RunFilter) -> list[RunRecord]: ...

    @abstractmethod
    def targets(self) -> list[str] | None:
        """The distinct targets of the recorded runs (each run's own), sorted, read from an index; None when the
        backend could only tell by reading every run (DynamoDB cannot list an index's keys without a Scan), so a
        listing matching a target any other way than exactly reads the runs instead."""

    @abstractmethod
    def histories(self, run_filter: RunFilter) -> list[RunHistory]:
        """The runs list_runs would return, each with its transitions, steps, items and notes, read in a
        fixed number of queries whatever the number of runs. Without their messages: a journal may hold
        thousands of lines, which no listing shows (history(run_id) reads them)."""

    @abstractmethod
    def history(self, run_id: str) -> RunHistory | None:
        """One run with its transitions, steps, items, notes and messages, read together (a run document, a
        copy)."""

    @abstractmethod
    def transitions(self, run_id: str, after_seq: int = 0) -> list[TransitionRecord]:
        """The run's transitions with seq > after_seq, in seq order."""

    @abstractmethod
    def items(self, run_id: str) -> list[ItemRecord]: ...

    @abstractmethod
    def steps(self, run_id: str) -> list[StepRecord]: ...

    @abstractmethod
    def get_step(self, run_id: str, name: str) -> StepRecord | None: ...

    # ---- locks ---------------------------------------------------------------------------------
    @property
    @abstractmethod
    def skew_margin_seconds(self) -> float:
        """How long past its expiry a lease is still honoured, for clocks that disagree between hosts."""

    @abstractmethod
    def acquire_lock(
        self,
        target: str,
        run_id: str,
        owner: str,
        lease_seconds: float,
        *,
        now: float,
        replace_owner: str | None = None,
    ) -> LockRecord:
        """Take or renew the target's lock, deciding inside one transaction.

        - free (no row, or run_id None): taken, token = previous + 1 (1 for a new row);
        - held by this run_id and owner: renewed, token unchanged;
        - expired (expires_at + skew_margin_seconds <= now): taken, token + 1;
        - the holder's run is finished or does not exist: taken, token + 1;
        - replace_owner equals the holder's owner and the holder is this run_id (the caller proved
          that process is gone): taken, token + 1 — a compare-and-swap;
        - otherwise LockHeldError.
        """

    @abstractmethod
    def renew_lock(self, fence: Fence, owner: str, lease_seconds: float, *, now: float) -> LockRecord:
        """Extend the lease to now + lease_seconds iff fence holds, else LockLostError."""

    @abstractmethod
    def release_lock(self, fence: Fence) -> None:
        """Free the lock iff fence holds; a no-op otherwise."""

    @abstractmethod
    def break_lock(self, target: str, run_id: str) -> None:
        """Administrative: if run_id holds target, free it and raise its token so the old fence fails."""

    @abstractmethod
    def get_lock(self, target: str) -> LockRecord | None: ...

    @abstractmethod
    def close(self) -> None: ...
