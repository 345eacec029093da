"""Reading runs for `status` and `runs`: plain sqlite3 and json on a current SQLite store, so those commands start
without pydantic or sqlite-utils; any other store (missing, older, newer, unreadable, not SQLite) is read through
the full backend, which creates, migrates or refuses it as it always does."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from store.errors import RunNotFoundError
from store.open import STORE_ENV, open_store, resolve_store_path

if TYPE_CHECKING:
    from store.base import RunStore
    from store.models import RunFilter

# The migrations a store must have, exactly, to be read here; tests/test_startup.py holds it equal to
# store.migrations. A store with fewer (needs migrating) or others (newer ecsops) goes to the full backend,
# except that a store missing only OPTIONAL_MIGRATIONS is read here as it is: they only add a table whose
# absence reads as empty (m004: a store from before notes has no notes).
SCHEMA_MIGRATIONS = frozenset({"m001_initial", "m002_facts_timers_reason", "m003_lock_tokens", "m004_run_notes"})
OPTIONAL_MIGRATIONS = frozenset({"m004_run_notes"})
MIGRATION_SET = "ecsops"
BUSY_TIMEOUT_ENV = "ECSOPS_STORE_BUSY_TIMEOUT"  # as in store.sqlite_store, which imports sqlite-utils
_FINISHED = frozenset({"succeeded", "rolled_back", "rollback_failed", "failed", "superseded", "abandoned"})


# --- what a run document reads (store.models' records have these attributes too) --------------------------


class RunLike(Protocol):
    @property
    def run_id(self) -> str: ...
    @property
    def operation(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def machine_version(self) -> str: ...
    @property
    def ecsops_version(self) -> str: ...
    @property
    def params(self) -> dict[str, Any]: ...
    @property
    def facts(self) -> dict[str, Any]: ...
    @property
    def timers(self) -> dict[str, float]: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def started_by(self) -> str: ...
    @property
    def ci(self) -> dict[str, str]: ...
    @property
    def started_at(self) -> str: ...
    @property
    def updated_at(self) -> str: ...
    @property
    def finished_at(self) -> str | None: ...
    @property
    def finished(self) -> bool: ...


class TransitionLike(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def item(self) -> str | None: ...
    @property
    def source(self) -> str: ...
    @property
    def dest(self) -> str: ...
    @property
    def trigger(self) -> str: ...
    @property
    def at(self) -> str: ...


class StepLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def request(self) -> dict[str, Any]: ...
    @property
    def result(self) -> Any: ...
    @property
    def error(self) -> dict[str, Any] | None: ...
    @property
    def started_at(self) -> str: ...
    @property
    def finished_at(self) -> str | None: ...


class ItemLike(Protocol):
    @property
    def item_id(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


class NoteLike(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def who(self) -> str: ...
    @property
    def at(self) -> str: ...


class HistoryLike(Protocol):
    """One run with everything recorded about it (store.models.RunHistory has these attributes too)."""

    @property
    def run(self) -> RunLike: ...
    @property
    def transitions(self) -> Sequence[TransitionLike]: ...
    @property
    def steps(self) -> Sequence[StepLike]: ...
    @property
    def items(self) -> Sequence[ItemLike]: ...
    @property
    def notes(self) -> Sequence[NoteLike]: ...


@dataclass(frozen=True)
class RunQuery:
    """Which runs `list_runs` returns, newest first; every filter optional."""

    operation: str | None = None
    target: str | None = None
    status: str | None = None
    since: str | None = None
    limit: int = 50


class HistorySource(Protocol):
    """Where one run is read with everything recorded about it; every RunStore is one."""

    def history(self, run_id: str) -> HistoryLike | None: ...


class LockLike(Protocol):
    @property
    def target(self) -> str: ...
    @property
    def run_id(self) -> str | None: ...
    @property
    def owner(self) -> str | None: ...
    @property
    def token(self) -> int: ...
    @property
    def expires_at(self) -> float: ...


class LockSource(Protocol):
    """Where a target's lock is read; every RunStore is one."""

    def get_lock(self, target: str) -> LockLike | None: ...


class RunReader(HistorySource, LockSource, Protocol):
    def get_run(self, run_id: str) -> RunLike: ...
    def list_runs(self, query: RunQuery) -> Sequence[RunLike]: ...
    def histories(self, query: RunQuery) -> Sequence[HistoryLike]:
        """The runs `list_runs` returns, each with its timeline, steps and items, in a fixed number of queries."""
    def close(self) -> None: ...


# --- plain records ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunView:
    run_id: str
    operation: str
    target: str
    status: str
    state: str
    version: int
    machine_version: str
    ecsops_version: str
    started_at: str
    updated_at: str
    params: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    timers: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    started_by: str = ""
    ci: dict[str, str] = field(default_factory=dict)
    finished_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in _FINISHED


@dataclass(frozen=True)
class TransitionView:
    run_id: str
    seq: int
    source: str
    dest: str
    trigger: str
    at: str
    item: str | None = None


@dataclass(frozen=True)
class StepView:
    run_id: str
    name: str
    status: str
    started_at: str
    request: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    error: dict[str, Any] | None = None
    finished_at: str | None = None


@dataclass(frozen=True)
class ItemView:
    run_id: str
    item_id: str
    state: str
    updated_at: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NoteView:
    run_id: str
    seq: int
    kind: str
    text: str
    who: str
    at: str


@dataclass(frozen=True)
class LockView:
    target: str
    run_id: str | None
    owner: str | None
    token: int
    acquired_at: str | None
    expires_at: float


_RUN_JSON = ("params", "facts", "timers", "ci")
_RUN_COLUMNS = tuple(f.name for f in fields(RunView))


HistoryParts = tuple[list["TransitionView"], list["StepView"], list["ItemView"], list["NoteView"]]


@dataclass(frozen=True)
class HistoryView:
    run: RunLike
    transitions: Sequence[TransitionLike] = ()
    steps: Sequence[StepLike] = ()
    items: Sequence[ItemLike] = ()
    notes: Sequence[NoteLike] = ()


def _json(text: str | None, empty: Any) -> Any:
    return json.loads(text) if text else empty


class SqliteRunReader:
    """Read-only queries on one current SQLite store; never writes, never migrates."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, has_notes: bool = True) -> None:
        self._conn = conn
        self.path = path
        self._has_notes = has_notes  # False for a store from before m004_run_notes: it has no notes

    def _rows(self, sql: str, args: Sequence[Any]) -> list[sqlite3.Row]:
        return list(self._conn.execute(sql, list(args)))

    def _run(self, row: sqlite3.Row) -> RunView:
        present = set(row.keys())  # `key in row` would test the values
        values = {key: row[key] for key in _RUN_COLUMNS if key in present}
        for key in _RUN_JSON:
            values[key] = _json(values.get(key), {})
        return RunView(**values)

    def get_run(self, run_id: str) -> RunView:
        rows = self._rows("SELECT * FROM runs WHERE run_id = ?", [run_id])
        if not rows:
            raise RunNotFoundError(f"no run with id {run_id!r} in store {self.path}")
        return self._run(rows[0])

    def list_runs(self, query: RunQuery) -> list[RunView]:
        clauses, args = [], []
        for column in ("operation", "target", "status"):
            value = getattr(query, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if query.since is not None:
            clauses.append("started_at >= ?")
            args.append(query.since)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._rows(f"SELECT * FROM runs {where} ORDER BY started_at DESC, rowid DESC LIMIT ?",
                          [*args, query.limit])
        return [self._run(row) for row in rows]

    def history(self, run_id: str) -> HistoryView | None:
        rows = self._rows("SELECT * FROM runs WHERE run_id = ?", [run_id])
        if not rows:
            return None
        ids = [run_id]
        return HistoryView(self._run(rows[0]), self._transitions(ids), self._steps(ids), self._items(ids),
                           self._notes(ids))

    def transitions(self, run_id: str) -> list[TransitionView]:
        return self._transitions([run_id])

    def steps(self, run_id: str) -> list[StepView]:
        return self._steps([run_id])

    def items(self, run_id: str) -> list[ItemView]:
        return self._items([run_id])

    def notes(self, run_id: str) -> list[NoteView]:
        return self._notes([run_id])

    def histories(self, query: RunQuery) -> list[HistoryView]:
        """Five queries whatever the number of runs: the runs, then their transitions, steps, items and notes."""
        runs = self.list_runs(query)
        ids = [run.run_id for run in runs]
        by_run: dict[str, HistoryParts] = {run_id: ([], [], [], []) for run_id in ids}
        for transition in self._transitions(ids):
            by_run[transition.run_id][0].append(transition)
        for step in self._steps(ids):
            by_run[step.run_id][1].append(step)
        for item in self._items(ids):
            by_run[item.run_id][2].append(item)
        for note in self._notes(ids):
            by_run[note.run_id][3].append(note)
        return [HistoryView(run, *by_run[run.run_id]) for run in runs]

    def _in(self, run_ids: Sequence[str]) -> str:
        return f"run_id IN ({', '.join('?' * len(run_ids))})"

    def _transitions(self, run_ids: Sequence[str]) -> list[TransitionView]:
        if not run_ids:
            return []
        rows = self._rows("SELECT run_id, seq, source, dest, trigger, at, item FROM transitions "
                          f"WHERE {self._in(run_ids)} ORDER BY run_id, seq", run_ids)
        return [TransitionView(*row) for row in rows]

    def _steps(self, run_ids: Sequence[str]) -> list[StepView]:
        if not run_ids:
            return []
        rows = self._rows("SELECT run_id, name, status, started_at, request, result, error, finished_at FROM steps "
                          f"WHERE {self._in(run_ids)} ORDER BY rowid", run_ids)
        return [
            StepView(r[0], r[1], r[2], r[3], _json(r[4], {}), None if r[5] is None else json.loads(r[5]),
                     None if r[6] is None else json.loads(r[6]), r[7])
            for r in rows
        ]

    def _items(self, run_ids: Sequence[str]) -> list[ItemView]:
        if not run_ids:
            return []
        rows = self._rows("SELECT run_id, item_id, state, updated_at, data FROM items "
                          f"WHERE {self._in(run_ids)} ORDER BY rowid", run_ids)
        return [ItemView(r[0], r[1], r[2], r[3], _json(r[4], {})) for r in rows]

    def _notes(self, run_ids: Sequence[str]) -> list[NoteView]:
        if not run_ids or not self._has_notes:
            return []
        rows = self._rows("SELECT run_id, seq, kind, text, who, at FROM notes "
                          f"WHERE {self._in(run_ids)} ORDER BY run_id, seq", run_ids)
        return [NoteView(*row) for row in rows]

    def get_lock(self, target: str) -> LockView | None:
        rows = self._rows("SELECT target, run_id, owner, token, acquired_at, expires_at FROM locks WHERE target = ?",
                          [target])
        return LockView(*rows[0]) if rows else None

    def close(self) -> None:
        self._conn.close()


class StoreReader:
    """A full RunStore seen as a RunReader (DynamoDB, or a SQLite store the plain reader leaves alone)."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def get_run(self, run_id: str) -> RunLike:
        return self.store.get_run(run_id)

    def list_runs(self, query: RunQuery) -> Sequence[RunLike]:
        return self.store.list_runs(_run_filter(query))

    def histories(self, query: RunQuery) -> Sequence[HistoryLike]:
        return self.store.histories(_run_filter(query))

    def history(self, run_id: str) -> HistoryLike | None:
        return self.store.history(run_id)

    def transitions(self, run_id: str) -> Sequence[TransitionLike]:
        return self.store.transitions(run_id)

    def steps(self, run_id: str) -> Sequence[StepLike]:
        return self.store.steps(run_id)

    def items(self, run_id: str) -> Sequence[ItemLike]:
        return self.store.items(run_id)

    def notes(self, run_id: str) -> Sequence[NoteLike]:
        return self.store.notes(run_id)

    def get_lock(self, target: str) -> LockLike | None:
        return self.store.get_lock(target)

    def close(self) -> None:
        self.store.close()


def _run_filter(query: RunQuery) -> RunFilter:
    from store.models import RunFilter

    return RunFilter(**{f.name: getattr(query, f.name) for f in fields(query)})


def open_sqlite_reader(path: Path) -> SqliteRunReader | None:
    """A plain reader when `path` is a store at exactly SCHEMA_MIGRATIONS (or missing only OPTIONAL_MIGRATIONS);
    None when the full backend must decide."""
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                               timeout=float(os.environ.get(BUSY_TIMEOUT_ENV, "10")))
    except sqlite3.Error:
        return None
    try:
        conn.row_factory = sqlite3.Row
        applied = {row[0] for row in conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [MIGRATION_SET])}
    except sqlite3.Error:
        conn.close()
        return None
    if not applied <= SCHEMA_MIGRATIONS or SCHEMA_MIGRATIONS - applied - OPTIONAL_MIGRATIONS:
        conn.close()
        return None
    return SqliteRunReader(conn, path, has_notes="m004_run_notes" in applied)


def open_reader(explicit: str | None = None) -> RunReader:
    """The configured store for reading (same resolution as store.open.open_store)."""
    raw = explicit or os.environ.get(STORE_ENV) or ""
    if "://" not in raw:
        reader = open_sqlite_reader(resolve_store_path(explicit))
        if reader is not None:
            return reader
    return StoreReader(open_store(explicit, for_reading=True))
