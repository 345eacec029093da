"""The SQLite backend of RunStore: WAL, owner-only files, fenced writes, one connection per thread."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from store.base import RunStore
from store.clock import utc_now_iso
from store.errors import (
    ConcurrentUpdateError,
    LockLostError,
    MessageSeqTakenError,
    RunNotFoundError,
    StoreBusyError,
    StoreError,
    StoreIntegrityError,
    StoreOpenError,
    StoreWriteError,
)
from store.lock_decision import LockRequest, Verdict, decide_lock, refusal
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
    check_message_batch,
)
from store.schema import MIGRATION_SET
from store.sqlite_open import (
    FileIdentity,
    busy_timeout_seconds,
    connect,
    open_sqlite_store_files,
)

_JSON_RUN_FIELDS = ("params", "facts", "timers", "ci")
_RUN_COLUMNS = (
    "run_id, operation, target, status, state, version, machine_version, ecsops_version, params, facts, "
    "timers, reason, started_by, ci, started_at, updated_at, finished_at"
)
_STEP_COLUMNS = "run_id, name, status, request, result, error, started_at, finished_at"
_LOCK_COLUMNS = "target, run_id, owner, token, acquired_at, expires_at"
_NOTE_COLUMNS = "run_id, seq, kind, text, who, at"
_MESSAGE_COLUMNS = "run_id, seq, kind, text, at, item"

# SQLite primary result codes (the low byte of an extended code).
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_NOTADB = 10, 11, 13, 26


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _run_from_row(row: sqlite3.Row) -> RunRecord:
    values = dict(row)
    for key in _JSON_RUN_FIELDS:
        values[key] = json.loads(values[key]) if values.get(key) else {}
    return RunRecord.from_dict(values)


def _step_from_row(row: sqlite3.Row) -> StepRecord:
    values = dict(row)
    values["request"] = json.loads(values["request"] or "{}")
    values["result"] = json.loads(values["result"]) if values["result"] is not None else None
    values["error"] = json.loads(values["error"]) if values["error"] is not None else None
    return StepRecord.from_dict(values)


def _item_from_row(row: sqlite3.Row) -> ItemRecord:
    return ItemRecord.from_dict({**dict(row), "data": json.loads(row["data"] or "{}")})


def _filter_sql(run_filter: RunFilter) -> tuple[str, list[Any]]:
    """The runs a filter selects, newest first, as a SELECT of run rows (usable as a CTE)."""
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
    if run_filter.until is not None:
        clauses.append("started_at < ?")
        args.append(run_filter.until)
    if run_filter.run_ids is not None:
        # One parameter however many ids: a listing may name thousands.
        clauses.append("run_id IN (SELECT value FROM json_each(?))")
        args.append(json.dumps(list(run_filter.run_ids)))
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY started_at DESC, rowid DESC LIMIT ?"
    return sql, [*args, run_filter.limit]


class SqliteRunStore(RunStore):
    """RunStore on one SQLite file. Open with `open_sqlite_store`.

    SQLite connections belong to the thread that uses them: each thread (the run's, its lease
    heartbeat's) gets its own connection to the same file. Every write first checks that the file at
    the store's path is still the one opened (same device and inode, same store id in its header).
    """

    def __init__(self, path: Path, identity: FileIdentity, *, read_only: bool, uri: str) -> None:
        self.path = path
        self.read_only = read_only
        self._identity = identity
        self._uri = uri
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        # A writable store is migrated when opened, so it has the notes and messages tables; a read-only one may
        # predate them (by table name: whether it has it, once looked up).
        self._optional_tables: dict[str, bool] = {} if read_only else {"notes": True, "messages": True}

    # ---- plumbing -------------------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """This thread's connection to the store (opened on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise StoreError(f"store {self.path} is closed")
            with self._errors("open"):
                conn = connect(self._uri)
            with self._connections_lock:
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    def adopt_connection(self, conn: sqlite3.Connection) -> None:
        """Use conn (already opened and migrated by the opener) as this thread's connection."""
        with self._connections_lock:
            self._connections.append(conn)
        self._local.conn = conn

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Translate sqlite3 failures into the store's errors: one line each, saying what to do."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise self._translate(exc, action) from exc
        except OSError as exc:
            raise StoreWriteError(f"store {self.path}: {action} failed: {exc.strerror or exc}") from exc

    def _translate(self, exc: sqlite3.DatabaseError, action: str) -> StoreError:
        code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        message = str(exc)
        if code in (_SQLITE_BUSY, _SQLITE_LOCKED) or "locked" in message:
            return StoreBusyError(
                f"store {self.path} stayed locked by another process for over "
                f"{busy_timeout_seconds():g}s; retry when it is free"
            )
        if code == _SQLITE_FULL:
            return StoreWriteError(
                f"store {self.path}: the disk is full ({action} was not written); free some space, "
                "then resume the run"
            )
        if code == _SQLITE_IOERR:
            return StoreWriteError(
                f"store {self.path}: I/O error ({message}; {action} was not written); fix the disk, "
                "then resume the run"
            )
        if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
            return StoreIntegrityError(
                f"store {self.path} is damaged or was overwritten ({message}); {action} was not written"
            )
        if code == _SQLITE_READONLY:
            return StoreWriteError(f"store {self.path} is read-only here; {action} was not written")
        return StoreError(f"store {self.path}: {action} failed: {message}")

    def _check_identity(self) -> None:
        """Raise StoreIntegrityError if the file at self.path is no longer the store we opened."""
        problem = self._identity.problem(self.path)
        if problem is not None:
            raise StoreIntegrityError(problem)

    @contextlib.contextmanager
    def _tx(self, action: str) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken IMMEDIATE so read-then-write decisions cannot race."""
        if self.read_only:
            raise StoreWriteError(f"store {self.path} was opened read-only; {action} was not written")
        self._check_identity()
        conn = self.connection()
        with self._errors(action):
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _read(self, action: str = "reading") -> Iterator[sqlite3.Connection]:
        conn = self.connection()
        with self._errors(action):
            yield conn

    def _check_fence(self, conn: sqlite3.Connection, fence: Fence) -> None:
        row = conn.execute("SELECT run_id, owner, token FROM locks WHERE target = ?", [fence.target]).fetchone()
        if row is None or row["run_id"] != fence.run_id or row["token"] != fence.token:
            raise LockLostError(
                fence.target,
                fence.run_id,
                fence.token,
                holder_run_id=None if row is None else row["run_id"],
                holder_owner=None if row is None else row["owner"],
            )

    @staticmethod
    def _fence_is_for(fence: Fence, run_id: str) -> None:
        if fence.run_id != run_id:
            raise ValueError(f"fence of run {fence.run_id} cannot write run {run_id}")

    def _run_in(self, conn: sqlite3.Connection, run_id: str) -> RunRecord | None:
        row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", [run_id]).fetchone()
        return _run_from_row(row) if row is not None else None

    def _step_in(self, conn: sqlite3.Connection, run_id: str, name: str) -> StepRecord | None:
        row = conn.execute(
            f"SELECT {_STEP_COLUMNS} FROM steps WHERE run_id = ? AND name = ?", [run_id, name]
        ).fetchone()
        return _step_from_row(row) if row is not None else None

    def _has_table(self, conn: sqlite3.Connection, name: str) -> bool:
        """Whether the store has a table a later migration added: a read-only store opened before m004 has no
        notes table (no notes), one before m006 no messages table (no messages)."""
        if name not in self._optional_tables:
            self._optional_tables[name] = (
                conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]).fetchone()
                is not None
            )
        return self._optional_tables[name]

    def _lock_in(self, conn: sqlite3.Connection, target: str) -> LockRecord | None:
        row = conn.execute(f"SELECT {_LOCK_COLUMNS} FROM locks WHERE target = ?", [target]).fetchone()
        return LockRecord.from_dict(dict(row)) if row is not None else None

    # ---- runs -----------------------------------------------------------------------------
    def create_run(self, run: RunRecord, fence: Fence) -> None:
        self._fence_is_for(fence, run.run_id)
        row = run.to_dict()
        for key in _JSON_RUN_FIELDS:
            row[key] = _dumps(row[key])
        with self._tx(f"run {run.run_id}") as conn:
            self._check_fence(conn, fence)
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", [run.run_id]).fetchone():
                raise ValueError(f"run {run.run_id} already exists")
            conn.execute(
                f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values())
            )

    def find_run(self, run_id: str) -> RunRecord | None:
        with self._read() as conn:
            return self._run_in(conn, run_id)

    def get_run(self, run_id: str) -> RunRecord:
        run = self.find_run(run_id)
        if run is None:
            raise RunNotFoundError(f"no run with id {run_id!r} in store {self.path}")
        return run

    def list_runs(self, run_filter: RunFilter) -> list[RunRecord]:
        sql, args = _filter_sql(run_filter)
        with self._read() as conn:
            return [_run_from_row(row) for row in conn.execute(sql, args)]

    def targets(self) -> list[str]:
        """One query, which SQLite answers from an index whose first column is target, never reading the runs."""
        with self._read() as conn:
            return [row[0] for row in conn.execute("SELECT DISTINCT target FROM runs ORDER BY target")]

    def histories(self, run_filter: RunFilter) -> list[RunHistory]:
        """Five queries in one read transaction, whatever the number of runs (no messages: see RunStore)."""
        sql, args = _filter_sql(run_filter)
        chosen = f"WITH chosen AS ({sql})"
        with self._read() as conn:
            conn.execute("BEGIN")
            try:
                runs = [_run_from_row(row) for row in conn.execute(sql, args)]
                transitions = conn.execute(
                    f"{chosen} SELECT t.run_id, t.seq, t.item, t.source, t.dest, t.trigger, t.at "
                    "FROM transitions t JOIN chosen USING (run_id) ORDER BY t.run_id, t.seq",
                    args,
                ).fetchall()
                steps = conn.execute(
                    f"{chosen} SELECT s.run_id, s.name, s.status, s.request, s.result, s.error, s.started_at, "
                    "s.finished_at FROM steps s JOIN chosen USING (run_id) ORDER BY s.rowid",
                    args,
                ).fetchall()
                items = conn.execute(
                    f"{chosen} SELECT i.run_id, i.item_id, i.state, i.data, i.updated_at "
                    "FROM items i JOIN chosen USING (run_id) ORDER BY i.rowid",
                    args,
                ).fetchall()
                notes = (
                    conn.execute(
                        f"{chosen} SELECT n.run_id, n.seq, n.kind, n.text, n.who, n.at "
                        "FROM notes n JOIN chosen USING (run_id) ORDER BY n.run_id, n.seq",
                        args,
                    ).fetchall()
                    if self._has_table(conn, "notes")
                    else []
                )
            finally:
                conn.execute("COMMIT")
        by_id = {run.run_id: RunHistory(run=run) for run in runs}
        for row in transitions:
            by_id[row["run_id"]].transitions.append(TransitionRecord.from_dict(dict(row)))
        for row in steps:
            by_id[row["run_id"]].steps.append(_step_from_row(row))
        for row in items:
            by_id[row["run_id"]].items.append(_item_from_row(row))
        for row in notes:
            by_id[row["run_id"]].notes.append(RunNote.from_dict(dict(row)))
        return list(by_id.values())

    def _update_run_in_tx(
        self,
        conn: sqlite3.Connection,
        run_id: str,
        expected_version: int,
        update: RunUpdate,
        *,
        updated_at: str,
        state: str | None = None,
    ) -> None:
        values = update.changes()
        for key in _JSON_RUN_FIELDS:
            if key in values:
                values[key] = _dumps(values[key])
        if state is not None:
            values["state"] = state
        values["updated_at"] = updated_at
        assignments = ", ".join(f"{key} = ?" for key in values)
        cursor = conn.execute(
            f"UPDATE runs SET {assignments}, version = version + 1 WHERE run_id = ? AND version = ?",
            [*values.values(), run_id, expected_version],
        )
        if cursor.rowcount != 1:
            current = self._run_in(conn, run_id)
            if current is None:
                raise RunNotFoundError(f"no run with id {run_id!r} in store {self.path}")
            raise ConcurrentUpdateError(
                f"run {run_id} was changed by another process (expected version "
                f"{expected_version}, found {current.version})"
            )

    def update_run(self, run_id: str, expected_version: int, fence: Fence | None, update: RunUpdate) -> RunRecord:
        if fence is not None:
            self._fence_is_for(fence, run_id)
        with self._tx(f"run {run_id}") as conn:
            if fence is not None:
                self._check_fence(conn, fence)
            self._update_run_in_tx(conn, run_id, expected_version, update, updated_at=utc_now_iso())
            run = self._run_in(conn, run_id)
        assert run is not None
        return run

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
        self._fence_is_for(fence, run_id)
        check_message_batch(run_id, messages)
        at = utc_now_iso()
        with self._tx(f"the checkpoint {source} -> {dest} of run {run_id}") as conn:
            self._check_fence(conn, fence)
            self._insert_messages(conn, run_id, messages)
            self._update_run_in_tx(
                conn, run_id, expected_version, update, updated_at=at, state=dest if item is None else None
            )
            (last_seq,) = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM transitions WHERE run_id = ?", [run_id]
            ).fetchone()
            conn.execute(
                'INSERT INTO transitions (run_id, seq, item, source, dest, "trigger", at) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [run_id, last_seq + 1, item, source, dest, trigger, at],
            )
            if item is not None:
                moved: dict[str, Any] = {"state": dest, "updated_at": at}
                if item_data is not None:
                    moved["data"] = _dumps(item_data)
                cursor = conn.execute(
                    f"UPDATE items SET {', '.join(f'{k} = ?' for k in moved)} "
                    "WHERE run_id = ? AND item_id = ? AND state = ?",
                    [*moved.values(), run_id, item, source],
                )
                if cursor.rowcount != 1:
                    raise ConcurrentUpdateError(f"item {item} of run {run_id} is no longer in {source}")
            run = self._run_in(conn, run_id)
        assert run is not None
        return run

    # ---- transitions and items -----------------------------------------------------------
    def transitions(self, run_id: str, after_seq: int = 0) -> list[TransitionRecord]:
        with self._read() as conn:
            rows = conn.execute(
                'SELECT run_id, seq, item, source, dest, "trigger", at FROM transitions '
                "WHERE run_id = ? AND seq > ? ORDER BY seq",
                [run_id, after_seq],
            ).fetchall()
        return [TransitionRecord.from_dict(dict(row)) for row in rows]

    def items(self, run_id: str) -> list[ItemRecord]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT run_id, item_id, state, data, updated_at FROM items WHERE run_id = ? ORDER BY rowid",
                [run_id],
            ).fetchall()
        return [_item_from_row(row) for row in rows]

    def put_item(self, run_id: str, item_id: str, state: str, data: dict[str, Any], fence: Fence) -> ItemRecord:
        self._fence_is_for(fence, run_id)
        at = utc_now_iso()
        with self._tx(f"item {item_id} of run {run_id}") as conn:
            self._check_fence(conn, fence)
            cursor = conn.execute(
                "UPDATE items SET data = ?, updated_at = ? WHERE run_id = ? AND item_id = ?",
                [_dumps(data), at, run_id, item_id],
            )
            if cursor.rowcount == 0:
                conn.execute(
                    "INSERT INTO items (run_id, item_id, state, data, updated_at) VALUES (?, ?, ?, ?, ?)",
                    [run_id, item_id, state, _dumps(data), at],
                )
            row = conn.execute(
                "SELECT run_id, item_id, state, data, updated_at FROM items WHERE run_id = ? AND item_id = ?",
                [run_id, item_id],
            ).fetchone()
        return _item_from_row(row)

    # ---- notes ----------------------------------------------------------------------------
    def add_note(self, run_id: str, kind: str, text: str, who: str) -> RunNote:
        """Unfenced: the next seq is chosen and written in one IMMEDIATE transaction, so writers queue."""
        at = utc_now_iso()
        RunNote(run_id=run_id, seq=1, kind=kind, text=text, who=who, at=at)  # refuse a bad note before writing
        with self._tx(f"a note on run {run_id}") as conn:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone() is None:
                raise RunNotFoundError(f"no run with id {run_id!r} in store {self.path}")
            seq = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM notes WHERE run_id = ?", [run_id]
            ).fetchone()[0]
            conn.execute(
                f"INSERT INTO notes ({_NOTE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", [run_id, seq, kind, text, who, at]
            )
        return RunNote(run_id=run_id, seq=seq, kind=kind, text=text, who=who, at=at)

    def notes(self, run_id: str) -> list[RunNote]:
        with self._read() as conn:
            return self._notes_in(conn, run_id)

    def _notes_in(self, conn: sqlite3.Connection, run_id: str) -> list[RunNote]:
        if not self._has_table(conn, "notes"):
            return []
        rows = conn.execute(f"SELECT {_NOTE_COLUMNS} FROM notes WHERE run_id = ? ORDER BY seq", [run_id]).fetchall()
        return [RunNote.from_dict(dict(row)) for row in rows]

    # ---- messages -------------------------------------------------------------------------
    def append_messages(self, run_id: str, messages: Sequence[RunMessage], fence: Fence) -> None:
        if not messages:
            return
        self._fence_is_for(fence, run_id)
        check_message_batch(run_id, messages)
        with self._tx(f"{len(messages)} message(s) of run {run_id}") as conn:
            self._check_fence(conn, fence)
            self._insert_messages(conn, run_id, messages)

    def _insert_messages(self, conn: sqlite3.Connection, run_id: str, messages: Sequence[RunMessage]) -> None:
        if not messages:
            return
        try:
            conn.executemany(
                f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                [(m.run_id, m.seq, m.kind, m.text, m.at, m.item) for m in messages],
            )
        except sqlite3.IntegrityError as exc:
            if "FOREIGN KEY" in str(exc):
                raise RunNotFoundError(f"no run with id {run_id!r} in store {self.path}") from None
            raise MessageSeqTakenError(run_id, messages[0].seq, messages[-1].seq) from None

    def messages(self, run_id: str, after_seq: int = 0) -> list[RunMessage]:
        with self._read() as conn:
            return self._messages_in(conn, run_id, after_seq)

    def _messages_in(self, conn: sqlite3.Connection, run_id: str, after_seq: int = 0) -> list[RunMessage]:
        if not self._has_table(conn, "messages"):
            return []
        rows = conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE run_id = ? AND seq > ? ORDER BY seq", [run_id, after_seq]
        ).fetchall()
        return [RunMessage.from_dict(dict(row)) for row in rows]

    # ---- steps ----------------------------------------------------------------------------
    def get_step(self, run_id: str, name: str) -> StepRecord | None:
        with self._read() as conn:
            return self._step_in(conn, run_id, name)

    def steps(self, run_id: str) -> list[StepRecord]:
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_STEP_COLUMNS} FROM steps WHERE run_id = ? ORDER BY rowid", [run_id]
            ).fetchall()
        return [_step_from_row(row) for row in rows]

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
        self._fence_is_for(fence, run_id)
        with self._tx(f"the intent of step {name} of run {run_id}") as conn:
            self._check_fence(conn, fence)
            if conn.execute("SELECT 1 FROM steps WHERE run_id = ? AND name = ?", [run_id, name]).fetchone():
                raise ValueError(f"step {name} of run {run_id} is already recorded; it is never rewritten")
            conn.execute(
                f"INSERT INTO steps ({_STEP_COLUMNS}) VALUES (?, ?, 'intent', ?, NULL, NULL, ?, NULL)",
                [run_id, name, _dumps(request), utc_now_iso()],
            )
            # The call that follows gets a whole lease of margin, renewed in the same transaction.
            conn.execute("UPDATE locks SET expires_at = ? WHERE target = ?", [now + lease_seconds, fence.target])
            step = self._step_in(conn, run_id, name)
        assert step is not None
        return step

    def record_outcome(
        self,
        run_id: str,
        name: str,
        status: StepStatus,
        fence: Fence,
        *,
        result: Any = None,
        error: dict[str, Any] | None = None,
    ) -> StepRecord:
        self._fence_is_for(fence, run_id)
        with self._tx(f"the outcome of step {name} of run {run_id}") as conn:
            self._check_fence(conn, fence)
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
            step = self._step_in(conn, run_id, name)
        assert step is not None
        return step

    # ---- moving history (store copy) ------------------------------------------------------
    def import_history(self, history: RunHistory) -> bool:
        """Insert a whole run, as recorded elsewhere, in one transaction; False if its id is taken."""
        run = history.run
        row = run.to_dict()
        for key in _JSON_RUN_FIELDS:
            row[key] = _dumps(row[key])
        with self._tx(f"the copy of run {run.run_id}") as conn:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", [run.run_id]).fetchone():
                return False
            conn.execute(
                f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values())
            )
            conn.executemany(
                "INSERT INTO transitions (run_id, seq, item, source, dest, trigger, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(t.run_id, t.seq, t.item, t.source, t.dest, t.trigger, t.at) for t in history.transitions],
            )
            conn.executemany(
                f"INSERT INTO steps ({_STEP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        s.run_id, s.name, s.status, _dumps(s.request),
                        None if s.result is None else _dumps(s.result),
                        None if s.error is None else _dumps(s.error),
                        s.started_at, s.finished_at,
                    )
                    for s in history.steps
                ],
            )
            conn.executemany(
                "INSERT INTO items (run_id, item_id, state, data, updated_at) VALUES (?, ?, ?, ?, ?)",
                [(i.run_id, i.item_id, i.state, _dumps(i.data), i.updated_at) for i in history.items],
            )
            conn.executemany(
                f"INSERT INTO notes ({_NOTE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                [(n.run_id, n.seq, n.kind, n.text, n.who, n.at) for n in history.notes],
            )
            conn.executemany(
                f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                [(m.run_id, m.seq, m.kind, m.text, m.at, m.item) for m in history.messages],
            )
        return True

    def history(self, run_id: str) -> RunHistory | None:
        """The run and everything recorded about it, read in one read transaction."""
        with self._read() as conn:
            conn.execute("BEGIN")
            try:
                run = self._run_in(conn, run_id)
                if run is None:
                    return None
                transitions = conn.execute(
                    "SELECT run_id, seq, item, source, dest, trigger, at FROM transitions "
                    "WHERE run_id = ? ORDER BY seq",
                    [run_id],
                ).fetchall()
                steps = conn.execute(
                    f"SELECT {_STEP_COLUMNS} FROM steps WHERE run_id = ? ORDER BY rowid", [run_id]
                ).fetchall()
                items = conn.execute(
                    "SELECT run_id, item_id, state, data, updated_at FROM items WHERE run_id = ? ORDER BY rowid",
                    [run_id],
                ).fetchall()
                notes = self._notes_in(conn, run_id)
                messages = self._messages_in(conn, run_id)
            finally:
                conn.execute("COMMIT")
        return RunHistory(
            run=run,
            transitions=[TransitionRecord.from_dict(dict(row)) for row in transitions],
            steps=[_step_from_row(row) for row in steps],
            items=[_item_from_row(row) for row in items],
            notes=notes,
            messages=messages,
        )

    # ---- locks ----------------------------------------------------------------------------
    @property
    def skew_margin_seconds(self) -> float:
        return 0.0  # one host, one clock

    def get_lock(self, target: str) -> LockRecord | None:
        self._check_identity()
        with self._read() as conn:
            return self._lock_in(conn, target)

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
        expires_at = now + lease_seconds
        request = LockRequest(run_id, owner, replace_owner)
        with self._tx(f"the lock of {target}") as conn:
            lock = self._lock_in(conn, target)
            decision = decide_lock(
                lock,
                request,
                now=now,
                skew_margin_seconds=self.skew_margin_seconds,
                holder_finished=lambda holder: self._finished_or_absent(conn, holder),
            )
            if decision.verdict is Verdict.REFUSE:
                assert lock is not None
                raise refusal(lock, request)
            if lock is None:
                conn.execute(
                    f"INSERT INTO locks ({_LOCK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    [target, run_id, owner, decision.token(lock), utc_now_iso(), expires_at],
                )
            elif decision.verdict is Verdict.RENEW:
                conn.execute("UPDATE locks SET expires_at = ? WHERE target = ?", [expires_at, target])
            else:
                conn.execute(
                    "UPDATE locks SET run_id = ?, owner = ?, token = ?, acquired_at = ?, expires_at = ? "
                    "WHERE target = ?",
                    [run_id, owner, decision.token(lock), utc_now_iso(), expires_at, target],
                )
            taken = self._lock_in(conn, target)
        assert taken is not None
        return taken

    @staticmethod
    def _finished_or_absent(conn: sqlite3.Connection, run_id: str) -> bool:
        holder = conn.execute("SELECT finished_at FROM runs WHERE run_id = ?", [run_id]).fetchone()
        return holder is None or holder["finished_at"] is not None

    def renew_lock(self, fence: Fence, owner: str, lease_seconds: float, *, now: float) -> LockRecord:
        with self._tx(f"the lease of {fence.target}") as conn:
            self._check_fence(conn, fence)
            conn.execute(
                "UPDATE locks SET owner = ?, expires_at = ? WHERE target = ?",
                [owner, now + lease_seconds, fence.target],
            )
            lock = self._lock_in(conn, fence.target)
        assert lock is not None
        return lock

    def release_lock(self, fence: Fence) -> None:
        with self._tx(f"the release of {fence.target}") as conn:
            conn.execute(
                "UPDATE locks SET run_id = NULL, owner = NULL, acquired_at = NULL, expires_at = 0 "
                "WHERE target = ? AND run_id = ? AND token = ?",
                [fence.target, fence.run_id, fence.token],
            )

    def break_lock(self, target: str, run_id: str) -> None:
        with self._tx(f"breaking the lock of {target}") as conn:
            conn.execute(
                "UPDATE locks SET run_id = NULL, owner = NULL, acquired_at = NULL, expires_at = 0, "
                "token = token + 1 WHERE target = ? AND run_id = ?",
                [target, run_id],
            )

    def close(self) -> None:
        self._closed = True
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._identity.close()


def open_sqlite_store(path: Path, *, read_only: bool = False) -> SqliteRunStore:
    """Open the store at path (creating and migrating it unless read_only), or raise StoreOpenError."""
    opened = open_sqlite_store_files(path, read_only=read_only)
    store = SqliteRunStore(path, opened.identity, read_only=opened.read_only, uri=opened.uri)
    store.adopt_connection(opened.conn)
    return store


__all__ = ["MIGRATION_SET", "SqliteRunStore", "StoreOpenError", "open_sqlite_store"]
