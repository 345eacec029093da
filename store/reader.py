"""Reading runs for `status` and `runs`: plain sqlite3 and json on a current SQLite store, so those commands start
without pydantic or sqlite-utils; any other store (missing, older, newer, unreadable, not SQLite) is read through
the full backend, which creates, migrates or refuses it as it always does."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from store.errors import RunNotFoundError
from store.models import (
    ItemRecord,
    LockRecord,
    RunFilter,
    RunHistory,
    RunMessage,
    RunNote,
    RunRecord,
    StepRecord,
    TransitionRecord,
)
from store.open import STORE_ENV, open_store, resolve_store_path
from store.schema import MESSAGES_MIGRATION, MIGRATION_SET, MIGRATIONS, NOTES_MIGRATION, OPTIONAL_FOR_READER

if TYPE_CHECKING:
    from store.base import RunStore

BUSY_TIMEOUT_ENV = "ECSOPS_STORE_BUSY_TIMEOUT"  # as in store.sqlite_store, which imports sqlite-utils


class HistorySource(Protocol):
    """Where one run is read with everything recorded about it; every RunStore is one."""

    def history(self, run_id: str) -> RunHistory | None: ...


class LockSource(Protocol):
    """Where a target's lock is read; every RunStore is one."""

    def get_lock(self, target: str) -> LockRecord | None: ...


class RunReader(HistorySource, LockSource, Protocol):
    def get_run(self, run_id: str) -> RunRecord: ...
    def list_runs(self, run_filter: RunFilter) -> Sequence[RunRecord]: ...
    def targets(self) -> Sequence[str] | None:
        """The distinct targets of the recorded runs, or None when the store cannot tell cheaply (store.base)."""
    def histories(self, run_filter: RunFilter) -> Sequence[RunHistory]:
        """The runs `list_runs` returns, each with its timeline, steps and items, in a fixed number of queries."""
    def transitions(self, run_id: str, after_seq: int = 0) -> Sequence[TransitionRecord]: ...
    def messages(self, run_id: str, after_seq: int = 0) -> Sequence[RunMessage]: ...
    def close(self) -> None: ...


_RUN_JSON = ("params", "facts", "timers", "ci")


def _json(text: str | None, empty: Any) -> Any:
    return json.loads(text) if text else empty


class SqliteRunReader:
    """Read-only queries on one current SQLite store; never writes, never migrates."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, has_notes: bool = True, has_messages: bool = True
                 ) -> None:
        self._conn = conn
        self.path = path
        self._has_notes = has_notes  # False for a store from before m004_run_notes: it has no notes
        self._has_messages = has_messages  # False for a store from before m006_run_messages: it has no messages

    def _rows(self, sql: str, args: Sequence[Any]) -> list[sqlite3.Row]:
        return list(self._conn.execute(sql, list(args)))

    def _run(self, row: sqlite3.Row) -> RunRecord:
        values = dict(row)
        for key in _RUN_JSON:
            values[key] = _json(values.get(key), {})
        return RunRecord.from_dict(values)

    def get_run(self, run_id: str) -> RunRecord:
        rows = self._rows("SELECT * FROM runs WHERE run_id = ?", [run_id])
        if not rows:
            raise RunNotFoundError(f"no run with id {run_id!r} in store {self.path}")
        return self._run(rows[0])

    def list_runs(self, run_filter: RunFilter) -> list[RunRecord]:
        clauses, args = [], []
        for column in ("operation", "target", "status"):
            value = getattr(run_filter, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if run_filter.since is not None:
            clauses.append("started_at >= ?")
            args.append(run_filter.since)
        if run_filter.until is not None:
            clauses.append("started_at < ?")
            args.append(run_filter.until)
        if run_filter.run_ids is not None:
            clauses.append("run_id IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(list(run_filter.run_ids)))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._rows(f"SELECT * FROM runs {where} ORDER BY started_at DESC, rowid DESC LIMIT ?",
                          [*args, run_filter.limit])
        return [self._run(row) for row in rows]

    def targets(self) -> list[str]:
        return [row[0] for row in self._rows("SELECT DISTINCT target FROM runs ORDER BY target", [])]

    def history(self, run_id: str) -> RunHistory | None:
        rows = self._rows("SELECT * FROM runs WHERE run_id = ?", [run_id])
        if not rows:
            return None
        ids = [run_id]
        return RunHistory(run=self._run(rows[0]), transitions=self._transitions(ids), steps=self._steps(ids),
                          items=self._items(ids), notes=self._notes(ids), messages=self.messages(run_id))

    def transitions(self, run_id: str, after_seq: int = 0) -> list[TransitionRecord]:
        return self._transitions([run_id], after_seq)

    def messages(self, run_id: str, after_seq: int = 0) -> list[RunMessage]:
        if not self._has_messages:
            return []
        rows = self._rows("SELECT run_id, seq, kind, text, at, item FROM messages WHERE run_id = ? AND seq > ? "
                          "ORDER BY seq", [run_id, after_seq])
        return [RunMessage.from_dict(dict(row)) for row in rows]

    def steps(self, run_id: str) -> list[StepRecord]:
        return self._steps([run_id])

    def items(self, run_id: str) -> list[ItemRecord]:
        return self._items([run_id])

    def notes(self, run_id: str) -> list[RunNote]:
        return self._notes([run_id])

    def histories(self, run_filter: RunFilter) -> list[RunHistory]:
        """Five queries whatever the number of runs: the runs, then their transitions, steps, items and notes (no
        messages: see store.base.RunStore.histories)."""
        by_run = {run.run_id: RunHistory(run=run) for run in self.list_runs(run_filter)}
        ids = list(by_run)
        for transition in self._transitions(ids):
            by_run[transition.run_id].transitions.append(transition)
        for step in self._steps(ids):
            by_run[step.run_id].steps.append(step)
        for item in self._items(ids):
            by_run[item.run_id].items.append(item)
        for note in self._notes(ids):
            by_run[note.run_id].notes.append(note)
        return list(by_run.values())

    def _in(self, run_ids: Sequence[str]) -> str:
        return f"run_id IN ({', '.join('?' * len(run_ids))})"

    def _transitions(self, run_ids: Sequence[str], after_seq: int = 0) -> list[TransitionRecord]:
        if not run_ids:
            return []
        rows = self._rows("SELECT run_id, seq, source, dest, trigger, at, item FROM transitions "
                          f"WHERE {self._in(run_ids)} AND seq > ? ORDER BY run_id, seq", [*run_ids, after_seq])
        return [TransitionRecord.from_dict(dict(row)) for row in rows]

    def _steps(self, run_ids: Sequence[str]) -> list[StepRecord]:
        if not run_ids:
            return []
        rows = self._rows("SELECT run_id, name, status, started_at, request, result, error, finished_at FROM steps "
                          f"WHERE {self._in(run_ids)} ORDER BY rowid", run_ids)
        return [
            StepRecord.from_dict({
                **dict(row),
                "request": _json(row["request"], {}),
                "result": None if row["result"] is None else json.loads(row["result"]),
                "error": None if row["error"] is None else json.loads(row["error"]),
            })
            for row in rows
        ]

    def _items(self, run_ids: Sequence[str]) -> list[ItemRecord]:
        if not run_ids:
            return []
        rows = self._rows("SELECT run_id, item_id, state, updated_at, data FROM items "
                          f"WHERE {self._in(run_ids)} ORDER BY rowid", run_ids)
        return [ItemRecord.from_dict({**dict(row), "data": _json(row["data"], {})}) for row in rows]

    def _notes(self, run_ids: Sequence[str]) -> list[RunNote]:
        if not run_ids or not self._has_notes:
            return []
        rows = self._rows("SELECT run_id, seq, kind, text, who, at FROM notes "
                          f"WHERE {self._in(run_ids)} ORDER BY run_id, seq", run_ids)
        return [RunNote.from_dict(dict(row)) for row in rows]

    def get_lock(self, target: str) -> LockRecord | None:
        rows = self._rows("SELECT target, run_id, owner, token, acquired_at, expires_at FROM locks WHERE target = ?",
                          [target])
        return LockRecord.from_dict(dict(rows[0])) if rows else None

    def close(self) -> None:
        self._conn.close()


class StoreReader:
    """A full RunStore seen as a RunReader (DynamoDB, or a SQLite store the plain reader leaves alone)."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def get_run(self, run_id: str) -> RunRecord:
        return self.store.get_run(run_id)

    def list_runs(self, run_filter: RunFilter) -> list[RunRecord]:
        return self.store.list_runs(run_filter)

    def targets(self) -> list[str] | None:
        return self.store.targets()

    def histories(self, run_filter: RunFilter) -> list[RunHistory]:
        return self.store.histories(run_filter)

    def history(self, run_id: str) -> RunHistory | None:
        return self.store.history(run_id)

    def transitions(self, run_id: str, after_seq: int = 0) -> list[TransitionRecord]:
        return self.store.transitions(run_id, after_seq)

    def messages(self, run_id: str, after_seq: int = 0) -> list[RunMessage]:
        return self.store.messages(run_id, after_seq)

    def steps(self, run_id: str) -> list[StepRecord]:
        return self.store.steps(run_id)

    def items(self, run_id: str) -> list[ItemRecord]:
        return self.store.items(run_id)

    def notes(self, run_id: str) -> list[RunNote]:
        return self.store.notes(run_id)

    def get_lock(self, target: str) -> LockRecord | None:
        return self.store.get_lock(target)

    def close(self) -> None:
        self.store.close()


def open_sqlite_reader(path: Path) -> SqliteRunReader | None:
    """A plain reader when `path` is a store at exactly the schema's MIGRATIONS (or lacking only OPTIONAL_FOR_READER);
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
    if not applied <= MIGRATIONS or MIGRATIONS - applied - OPTIONAL_FOR_READER:
        conn.close()
        return None
    return SqliteRunReader(conn, path, has_notes=NOTES_MIGRATION in applied,
                           has_messages=MESSAGES_MIGRATION in applied)


def open_reader(explicit: str | None = None) -> RunReader:
    """The configured store for reading (same resolution as store.open.open_store)."""
    raw = explicit or os.environ.get(STORE_ENV) or ""
    if "://" not in raw:
        reader = open_sqlite_reader(resolve_store_path(explicit))
        if reader is not None:
            return reader
    return StoreReader(open_store(explicit, for_reading=True))
