"""The SQLite backend of RunStore, through sqlite-utils, with WAL and owner-only files."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from store.base import RunStore
from store.clock import utc_now_iso
from store.errors import (
    ConcurrentUpdateError,
    LockHeldError,
    RunNotFoundError,
    StoreBusyError,
    StoreOpenError,
)
from store.migrations import MIGRATION_SET, known_migration_names, migrations
from store.models import (
    ItemRecord,
    LockRecord,
    RunFilter,
    RunRecord,
    StepRecord,
    StepStatus,
    TransitionRecord,
)

BUSY_TIMEOUT_ENV = "ECSOPS_STORE_BUSY_TIMEOUT"


def busy_timeout_seconds() -> float:
    """How long to wait for another process's write lock before giving up (default 10s)."""
    return float(os.environ.get(BUSY_TIMEOUT_ENV, "10"))

_JSON_RUN_FIELDS = ("params", "facts", "timers", "ci")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class SqliteRunStore(RunStore):
    """RunStore on one SQLite file. Open with `open_sqlite_store`."""

    def __init__(self, db: Database, path: Path) -> None:
        self._db = db
        self.path = path

    # ---- plumbing -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._db.conn
        try:
            # IMMEDIATE takes the write lock up front, so read-then-write (locks, versions) never
            # fails half-way with SQLITE_BUSY when another process commits in between.
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreBusyError(
                    f"store {self.path} stayed locked by another process for over "
                    f"{busy_timeout_seconds():g}s; retry when it is free"
                ) from exc
            raise

    def _row_to_run(self, row: dict[str, Any]) -> RunRecord:
        values = dict(row)
        for key in _JSON_RUN_FIELDS:
            values[key] = json.loads(values[key]) if values.get(key) else {}
        return RunRecord(**values)

    def _run_row(self, run: RunRecord) -> dict[str, Any]:
        row = run.model_dump()
        for key in _JSON_RUN_FIELDS:
            row[key] = _dumps(row[key])
        return row

    # ---- runs -----------------------------------------------------------------------------
    def create_run(self, run: RunRecord) -> None:
        with self._tx():
            if self._db.table("runs").count_where("run_id = ?", [run.run_id]):
                raise ValueError(f"run {run.run_id} already exists")
            self._db.table("runs").insert(self._run_row(run))

    def find_run(self, run_id: str) -> RunRecord | None:
        rows = list(self._db.table("runs").rows_where("run_id = ?", [run_id]))
        return self._row_to_run(rows[0]) if rows else None

    def get_run(self, run_id: str) -> RunRecord:
        run = self.find_run(run_id)
        if run is None:
            raise RunNotFoundError(f"no run with id {run_id!r} in store {self.path}")
        return run

    def list_runs(self, run_filter: RunFilter) -> list[RunRecord]:
        clauses: list[str] = []
        args: list[Any] = []
        for column in ("operation", "target", "status"):
            value = getattr(run_filter, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if run_filter.since is not None:
            clauses.append("started_at >= ?")
            args.append(run_filter.since)
        where = " AND ".join(clauses) or None
        rows = self._db.table("runs").rows_where(
            where, args, order_by="started_at DESC, rowid DESC", limit=run_filter.limit
        )
        return [self._row_to_run(row) for row in rows]

    def _update_run_in_tx(self, run_id: str, expected_version: int, fields: dict[str, Any]) -> None:
        values = dict(fields)
        for key in _JSON_RUN_FIELDS:
            if key in values:
                values[key] = _dumps(values[key])
        values["updated_at"] = values.get("updated_at") or utc_now_iso()
        assignments = ", ".join(f"{key} = ?" for key in values)
        cursor = self._db.conn.execute(
            f"UPDATE runs SET {assignments}, version = version + 1 WHERE run_id = ? AND version = ?",
            [*values.values(), run_id, expected_version],
        )
        if cursor.rowcount != 1:
            current = self.find_run(run_id)
            if current is None:
                raise RunNotFoundError(f"no run with id {run_id!r} in store {self.path}")
            raise ConcurrentUpdateError(
                f"run {run_id} was changed by another process (expected version "
                f"{expected_version}, found {current.version})"
            )

    def update_run(self, run_id: str, expected_version: int, **fields: Any) -> RunRecord:
        with self._tx():
            self._update_run_in_tx(run_id, expected_version, fields)
        return self.get_run(run_id)

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
        at = utc_now_iso()
        with self._tx() as conn:
            fields = dict(run_fields)
            if item is None:
                fields["state"] = dest
            fields["updated_at"] = at
            self._update_run_in_tx(run_id, expected_version, fields)
            (last_seq,) = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM transitions WHERE run_id = ?", [run_id]
            ).fetchone()
            self._db.table("transitions").insert(
                {
                    "run_id": run_id,
                    "seq": last_seq + 1,
                    "item": item,
                    "source": source,
                    "dest": dest,
                    "trigger": trigger,
                    "at": at,
                }
            )
            if item is not None:
                update: dict[str, Any] = {"state": dest, "updated_at": at}
                if item_data is not None:
                    update["data"] = _dumps(item_data)
                cursor = conn.execute(
                    f"UPDATE items SET {', '.join(f'{k} = ?' for k in update)} "
                    "WHERE run_id = ? AND item_id = ? AND state = ?",
                    [*update.values(), run_id, item, source],
                )
                if cursor.rowcount != 1:
                    raise ConcurrentUpdateError(f"item {item} of run {run_id} is no longer in {source}")
        return self.get_run(run_id)

    # ---- transitions and items -----------------------------------------------------------
    def transitions(self, run_id: str) -> list[TransitionRecord]:
        rows = self._db.table("transitions").rows_where("run_id = ?", [run_id], order_by="seq")
        return [TransitionRecord(**row) for row in rows]

    def items(self, run_id: str) -> list[ItemRecord]:
        rows = self._db.table("items").rows_where("run_id = ?", [run_id], order_by="rowid")
        return [ItemRecord(**{**row, "data": json.loads(row["data"] or "{}")}) for row in rows]

    def put_item(self, run_id: str, item_id: str, state: str, data: dict[str, Any]) -> ItemRecord:
        at = utc_now_iso()
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE items SET data = ?, updated_at = ? WHERE run_id = ? AND item_id = ?",
                [_dumps(data), at, run_id, item_id],
            )
            if cursor.rowcount == 0:
                self._db.table("items").insert(
                    {"run_id": run_id, "item_id": item_id, "state": state, "data": _dumps(data), "updated_at": at}
                )
        return next(i for i in self.items(run_id) if i.item_id == item_id)

    # ---- steps ----------------------------------------------------------------------------
    def _row_to_step(self, row: dict[str, Any]) -> StepRecord:
        values = dict(row)
        values["request"] = json.loads(values["request"] or "{}")
        values["result"] = json.loads(values["result"]) if values["result"] is not None else None
        values["error"] = json.loads(values["error"]) if values["error"] is not None else None
        return StepRecord(**values)

    def get_step(self, run_id: str, name: str) -> StepRecord | None:
        rows = list(self._db.table("steps").rows_where("run_id = ? AND name = ?", [run_id, name]))
        return self._row_to_step(rows[0]) if rows else None

    def steps(self, run_id: str) -> list[StepRecord]:
        rows = self._db.table("steps").rows_where("run_id = ?", [run_id], order_by="rowid")
        return [self._row_to_step(row) for row in rows]

    def record_intent(self, run_id: str, name: str, request: dict[str, Any]) -> StepRecord:
        with self._tx():
            if self._db.table("steps").count_where("run_id = ? AND name = ?", [run_id, name]):
                raise ValueError(f"step {name} of run {run_id} is already recorded; it is never rewritten")
            self._db.table("steps").insert(
                {
                    "run_id": run_id,
                    "name": name,
                    "status": "intent",
                    "request": _dumps(request),
                    "result": None,
                    "error": None,
                    "started_at": utc_now_iso(),
                    "finished_at": None,
                }
            )
        step = self.get_step(run_id, name)
        assert step is not None
        return step

    def record_outcome(
        self,
        run_id: str,
        name: str,
        status: StepStatus,
        *,
        result: Any = None,
        error: dict[str, Any] | None = None,
    ) -> StepRecord:
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE steps SET status = ?, result = ?, error = ?, finished_at = ? "
                "WHERE run_id = ? AND name = ? AND status = 'intent'",
                [
                    status,
                    None if result is None else _dumps(result),
                    None if error is None else _dumps(error),
                    utc_now_iso(),
                    run_id,
                    name,
                ],
            )
            if cursor.rowcount != 1:
                raise ConcurrentUpdateError(f"step {name} of run {run_id} is not awaiting an outcome")
        step = self.get_step(run_id, name)
        assert step is not None
        return step

    # ---- locks ----------------------------------------------------------------------------
    def get_lock(self, target: str) -> LockRecord | None:
        rows = list(self._db.table("locks").rows_where("target = ?", [target]))
        return LockRecord(**rows[0]) if rows else None

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
        with self._tx() as conn:
            row = conn.execute(
                "SELECT run_id, owner, expires_at, acquired_at FROM locks WHERE target = ?", [target]
            ).fetchone()
            expires_at = now + lease_seconds
            if row is None:
                self._db.table("locks").insert(
                    {
                        "target": target,
                        "run_id": run_id,
                        "owner": owner,
                        "acquired_at": utc_now_iso(),
                        "expires_at": expires_at,
                    }
                )
            else:
                holder_run, holder_owner, holder_expires, acquired_at = row
                expired = holder_expires <= now
                same_run = holder_run == run_id
                if not expired and not same_run:
                    raise LockHeldError(target, holder_run, holder_expires)
                if not expired and holder_owner != owner and not take_over_owner:
                    raise LockHeldError(target, holder_run, holder_expires, holder_owner=holder_owner)
                conn.execute(
                    "UPDATE locks SET run_id = ?, owner = ?, acquired_at = ?, expires_at = ? WHERE target = ?",
                    [run_id, owner, acquired_at if same_run else utc_now_iso(), expires_at, target],
                )
        lock = self.get_lock(target)
        assert lock is not None
        return lock

    def release_lock(self, target: str, run_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM locks WHERE target = ? AND run_id = ?", [target, run_id])

    def close(self) -> None:
        self._db.close()


def _prepare_file(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
    except OSError as exc:
        raise StoreOpenError(
            f"cannot create the store at {path}: {exc.strerror}; "
            "choose a writable path with --store or ECSOPS_STORE"
        ) from exc
    if not os.access(path, os.R_OK | os.W_OK) or not os.access(path.parent, os.W_OK):
        raise StoreOpenError(
            f"the store {path} (or its directory) is not writable; "
            "choose a writable path with --store or ECSOPS_STORE"
        )


def open_sqlite_store(path: Path) -> SqliteRunStore:
    """Open (creating and migrating if needed) the store at path, or raise StoreOpenError."""
    _prepare_file(path)
    old_umask = os.umask(0o077)
    try:
        conn = sqlite3.connect(str(path), timeout=busy_timeout_seconds(), isolation_level=None)
        db = Database(conn)
        db.conn.execute("PRAGMA foreign_keys = ON")
        applied = {m.name for m in migrations.applied(db)}
        unknown = applied - known_migration_names()
        if unknown:
            db.close()
            raise StoreOpenError(
                f"the store {path} was written by a newer ecsops (unknown schema migrations: "
                f"{', '.join(sorted(unknown))}); upgrade ecsops to read it. Nothing was changed."
            )
        if db.journal_mode != "wal":
            db.enable_wal()
        migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        message = str(exc)
        if "locked" in message or "busy" in message:
            raise StoreOpenError(
                f"the store {path} stayed locked by another process for over "
                f"{busy_timeout_seconds():g}s; retry when it is free"
            ) from exc
        raise StoreOpenError(
            f"the store {path} is not a readable ecsops database ({message}); "
            "it was left untouched — move it aside or point --store elsewhere"
        ) from exc
    finally:
        os.umask(old_umask)
    return SqliteRunStore(db, path)


__all__ = ["MIGRATION_SET", "SqliteRunStore", "open_sqlite_store"]
