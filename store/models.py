"""Pydantic records the store reads and writes: runs, transitions, steps, items, notes and locks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal[
    "running",
    "succeeded",
    "rolled_back",
    "rollback_failed",
    "failed",
    "superseded",
    "interrupted",
    "paused",
    "abandoned",
]
FINISHED_STATUSES: frozenset[str] = frozenset(
    {"succeeded", "rolled_back", "rollback_failed", "failed", "superseded", "abandoned"}
)

StepStatus = Literal["intent", "succeeded", "failed", "reconciled"]


class RunRecord(BaseModel):
    """One operation run: what was asked, where it stands, who ran it."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    operation: str
    target: str
    status: RunStatus
    state: str
    version: int = 0
    machine_version: str
    ecsops_version: str
    params: dict[str, Any] = Field(default_factory=dict)
    # What the operation learned and decided (rollback target, deployment id...), as its typed facts dump.
    facts: dict[str, Any] = Field(default_factory=dict)
    # Absolute deadlines by name, kept apart from facts so no handler can erase them.
    timers: dict[str, float] = Field(default_factory=dict)
    # The one field that says why the run ended as it did, or what went wrong.
    reason: str | None = None
    started_by: str = ""
    ci: dict[str, str] = Field(default_factory=dict)
    started_at: str
    updated_at: str
    finished_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class TransitionRecord(BaseModel):
    """One fired trigger, appended when the run (or one of its items) changed state."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    seq: int
    item: str | None = None
    source: str
    dest: str
    trigger: str
    at: str


class StepRecord(BaseModel):
    """One side effect: its exact request, and its result or error once known."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    name: str
    status: StepStatus
    request: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    error: dict[str, Any] | None = None
    started_at: str
    finished_at: str | None = None


class ItemRecord(BaseModel):
    """A sub-unit of a run with its own checkpointed state (e.g. one container instance)."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    item_id: str
    state: str
    data: dict[str, Any] = Field(default_factory=dict)
    updated_at: str


class RunNote(BaseModel):
    """One line appended to a run's audit trail by someone other than its driver (e.g. `ecsops approve`).

    A note never changes the run's state, so it is written without the run's fence, and never rewritten.
    """

    model_config = ConfigDict(extra="forbid")

    run_id: str
    seq: int = Field(ge=1)  # per run, from 1
    kind: str = Field(pattern=r"^\S{1,40}$")  # a short word: "approve", "rollback"...
    text: str = Field(min_length=1, max_length=2000, pattern=r"^[^\r\n]+$")  # what was done, one line
    who: str = Field(min_length=1, max_length=200, pattern=r"^[^\r\n]+$")  # e.g. "alice@host"
    at: str


class LockRecord(BaseModel):
    """Who holds a target, with which fencing token, and until when the lease runs.

    A free lock keeps its row (run_id None) so that its token only ever grows.
    """

    model_config = ConfigDict(extra="forbid")

    target: str
    run_id: str | None
    owner: str | None
    token: int
    acquired_at: str | None
    expires_at: float

    @property
    def free(self) -> bool:
        return self.run_id is None


class Fence(BaseModel):
    """What a writer proves it holds: the target's lock, for its run, at one token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str
    run_id: str
    token: int


class RunHistory(BaseModel):
    """One run with everything recorded about it, read in bulk for listings."""

    model_config = ConfigDict(extra="forbid")

    run: RunRecord
    transitions: list[TransitionRecord] = Field(default_factory=list)
    steps: list[StepRecord] = Field(default_factory=list)
    items: list[ItemRecord] = Field(default_factory=list)
    notes: list[RunNote] = Field(default_factory=list)


class RunFilter(BaseModel):
    """Filters for listing runs; every field optional."""

    operation: str | None = None
    target: str | None = None
    status: str | None = None
    since: str | None = None
    limit: int = 50
