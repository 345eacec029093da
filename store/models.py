"""The records the store reads and writes (runs, transitions, steps, items, notes, messages, locks) and the typed change
of a run. Plain dataclasses of the standard library: `status` and `runs` read them without pydantic
(store/reader.py), and every backend builds the same classes.

Each record checks what it is built from: `from_dict` refuses a stored row with a field the record does not
know, or without one it needs, instead of dropping or inventing it; notes and statuses are checked as written.

The store gives a run's status no meaning: it is a short word its operation chooses ("running",
"succeeded"...). A run is finished when its finished_at is set, which the engine does in the same write that
gives the run its final status, and when a person abandons it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Literal, Self, get_args

StepStatus = Literal["intent", "succeeded", "failed", "reconciled"]
STEP_STATUSES: frozenset[str] = frozenset(get_args(StepStatus))

_STATUS = re.compile(r"[a-z][a-z_]{0,39}")
_NOTE_KIND = re.compile(r"\S{1,40}")
_ONE_LINE = re.compile(r"[^\r\n]+")
_MESSAGE_KIND = re.compile(r"[a-z][a-z_]{0,19}")


def check_status(status: object) -> str:
    """A run's status: a short lower-case word (a-z and _, at most 40), else ValueError."""
    if not isinstance(status, str) or not _STATUS.fullmatch(status):
        raise ValueError(f"run status {status!r} is not a short lower-case word (a-z and _, at most 40 characters)")
    return status


def _one_line(what: str, value: object, longest: int) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= longest or not _ONE_LINE.fullmatch(value):
        raise ValueError(f"a note's {what} must be one line of 1 to {longest} characters, not {value!r}")


@dataclass(frozen=True)
class Record:
    """What every record offers: a plain dict of its fields, and a checked construction from one."""

    def to_dict(self) -> dict[str, Any]:
        """Every field, deep-copied (nested records become dicts)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Self:
        """The record of a stored row: ValueError naming any field it does not know or lacks."""
        known, required = _field_names(cls)
        if not (known.issuperset(values) and all(name in values for name in required)):
            unknown = sorted(set(values) - known)
            missing = [name for name in required if name not in values]
            problems = ([f"unknown field(s) {', '.join(unknown)}"] if unknown else []) + (
                [f"missing field(s) {', '.join(missing)}"] if missing else []
            )
            raise ValueError(f"not a {cls.__name__}: {'; '.join(problems)}")
        return cls(**values)


_FIELD_NAMES: dict[type[Record], tuple[frozenset[str], tuple[str, ...]]] = {}


def _field_names(record: type[Record]) -> tuple[frozenset[str], tuple[str, ...]]:
    """A record class's field names, and those without a default in declaration order: worked out once per class, as
    a listing builds thousands of records."""
    names = _FIELD_NAMES.get(record)
    if names is None:
        declared = fields(record)
        required = tuple(f.name for f in declared if f.default is MISSING and f.default_factory is MISSING)
        names = _FIELD_NAMES[record] = (frozenset(f.name for f in declared), required)
    return names


@dataclass(frozen=True, kw_only=True)
class RunRecord(Record):
    """One operation run: what was asked, where it stands, who ran it."""

    run_id: str
    operation: str
    target: str
    status: str  # a short word the operation chooses; the store gives it no meaning
    state: str
    version: int = 0
    machine_version: str
    ecsops_version: str
    params: dict[str, Any] = field(default_factory=dict)
    # What the operation learned and decided (rollback target, deployment id...), as its typed facts dump.
    facts: dict[str, Any] = field(default_factory=dict)
    # Absolute deadlines by name, kept apart from facts so no handler can erase them.
    timers: dict[str, float] = field(default_factory=dict)
    # The one field that says why the run ended as it did, or what went wrong.
    reason: str | None = None
    started_by: str = ""
    ci: dict[str, str] = field(default_factory=dict)
    started_at: str
    updated_at: str
    finished_at: str | None = None  # set once the run has ended, whatever its status says

    def __post_init__(self) -> None:
        check_status(self.status)

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


class _Unset(enum.Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET  # a RunUpdate field left as it is


@dataclass(frozen=True, kw_only=True)
class RunUpdate:
    """What one write changes of a run: every field a run may change after its creation, each left as it is
    unless given. A checkpoint sets the run's state itself (its dest), and every write sets updated_at."""

    status: str | _Unset = UNSET
    facts: dict[str, Any] | _Unset = UNSET
    timers: dict[str, float] | _Unset = UNSET
    reason: str | _Unset | None = UNSET
    finished_at: str | _Unset = UNSET

    def __post_init__(self) -> None:
        if self.status is not UNSET:
            check_status(self.status)

    def changes(self) -> dict[str, Any]:
        """The fields given, by name."""
        return {f.name: value for f in fields(self) if (value := getattr(self, f.name)) is not UNSET}


NO_CHANGE = RunUpdate()


@dataclass(frozen=True, kw_only=True)
class TransitionRecord(Record):
    """One fired trigger, appended when the run (or one of its items) changed state."""

    run_id: str
    seq: int
    item: str | None = None
    source: str
    dest: str
    trigger: str
    at: str


@dataclass(frozen=True, kw_only=True)
class StepRecord(Record):
    """One side effect: its exact request, and its result or error once known."""

    run_id: str
    name: str
    status: StepStatus
    request: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    error: dict[str, Any] | None = None
    started_at: str
    finished_at: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STEP_STATUSES:
            raise ValueError(f"step status {self.status!r} is not one of {', '.join(sorted(STEP_STATUSES))}")


@dataclass(frozen=True, kw_only=True)
class ItemRecord(Record):
    """A sub-unit of a run with its own checkpointed state (e.g. one container instance)."""

    run_id: str
    item_id: str
    state: str
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: str


@dataclass(frozen=True, kw_only=True)
class RunNote(Record):
    """One line appended to a run's audit trail by someone other than its driver (e.g. `ecsops approve`).

    A note never changes the run's state, so it is written without the run's fence, and never rewritten.
    """

    run_id: str
    seq: int  # per run, from 1
    kind: str  # a short word: "approve", "rollback"...
    text: str  # what was done, one line
    who: str  # e.g. "alice@host"
    at: str

    def __post_init__(self) -> None:
        if isinstance(self.seq, bool) or not isinstance(self.seq, int) or self.seq < 1:
            raise ValueError(f"a note's seq counts from 1, not {self.seq!r}")
        if not isinstance(self.kind, str) or not _NOTE_KIND.fullmatch(self.kind):
            raise ValueError(f"a note's kind must be one word of 1 to 40 characters, not {self.kind!r}")
        _one_line("text", self.text, 2000)
        _one_line("author", self.who, 200)


MESSAGE_TEXT_LIMIT = 500  # characters of one journal line


@dataclass(frozen=True, kw_only=True)
class RunMessage(Record):
    """One line of a run's journal, written by the process that drives the run: what a handler said to the person
    watching (kind "progress"), or a mark on the run's timeline that was not printed (kind "stage": a lifecycle
    stage its deployment entered). Written under the run's fence, never rewritten.
    """

    run_id: str
    seq: int  # per run, from 1, in the order said
    kind: str  # a short word: "progress", "stage"...
    text: str  # one line of at most MESSAGE_TEXT_LIMIT characters
    at: str  # wall-clock time when it was said (not when it was written)
    item: str | None = None  # the item it is about, if one (a fleet's service)

    def __post_init__(self) -> None:
        if isinstance(self.seq, bool) or not isinstance(self.seq, int) or self.seq < 1:
            raise ValueError(f"a message's seq counts from 1, not {self.seq!r}")
        if not isinstance(self.kind, str) or not _MESSAGE_KIND.fullmatch(self.kind):
            raise ValueError(f"a message's kind must be one lower-case word of 1 to 20 characters, not {self.kind!r}")
        if (
            not isinstance(self.text, str)
            or not 1 <= len(self.text) <= MESSAGE_TEXT_LIMIT
            or not _ONE_LINE.fullmatch(self.text)
        ):
            raise ValueError(f"a message must be one line of 1 to {MESSAGE_TEXT_LIMIT} characters, not {self.text!r}")


def check_message_batch(run_id: str, messages: Sequence[RunMessage]) -> None:
    """Refuse (ValueError), before anything is written, messages of another run or not numbered one after another."""
    for previous, message in zip([None, *messages], messages, strict=False):
        if message.run_id != run_id:
            raise ValueError(f"a message of run {message.run_id} cannot be written to run {run_id}")
        if previous is not None and message.seq != previous.seq + 1:
            raise ValueError(
                f"messages of run {run_id} are numbered one after another, not {previous.seq} then {message.seq}"
            )


@dataclass(frozen=True, kw_only=True)
class LockRecord(Record):
    """Who holds a target, with which fencing token, and until when the lease runs.

    A free lock keeps its row (run_id None) so that its token only ever grows.
    """

    target: str
    run_id: str | None
    owner: str | None
    token: int
    acquired_at: str | None
    expires_at: float

    @property
    def free(self) -> bool:
        return self.run_id is None


@dataclass(frozen=True, kw_only=True)
class Fence(Record):
    """What a writer proves it holds: the target's lock, for its run, at one token."""

    target: str
    run_id: str
    token: int


@dataclass(frozen=True, kw_only=True)
class RunHistory(Record):
    """One run with everything recorded about it, read together (a run document, a listing, a copy)."""

    run: RunRecord
    transitions: list[TransitionRecord] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    items: list[ItemRecord] = field(default_factory=list)
    notes: list[RunNote] = field(default_factory=list)
    # The driver's journal. Filled by history(run_id); left empty by histories(): a listing of many runs does not
    # read a journal that may hold thousands of lines each.
    messages: list[RunMessage] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class RunFilter(Record):
    """Which runs a listing returns, newest first; every filter optional.

    `since` keeps runs started at or after that ISO time, `until` those started strictly before it: a page of a
    listing ends where the next one starts (`until` = the last shown run's started_at). `run_ids` keeps only the runs
    with those ids (an empty tuple: none), so a listing that chose its runs by their records reads their histories in
    a fixed number of queries, in the order and up to the limit the store gives any listing.
    """

    operation: str | None = None
    target: str | None = None
    status: str | None = None
    since: str | None = None
    until: str | None = None
    run_ids: tuple[str, ...] | None = None
    limit: int = 50
