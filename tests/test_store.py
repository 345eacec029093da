"""The SQLite store: migrations, reopening, permissions, and clear errors for bad stores."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from pathlib import Path

import pytest
from cli_helpers import run_ecsops, run_example

from store.errors import ConcurrentUpdateError, StoreOpenError
from store.migrations import known_migration_names
from store.models import Fence, RunFilter, RunRecord
from store.sqlite_store import SqliteRunStore, open_sqlite_store


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(run_id: str = "r1") -> RunRecord:
    return RunRecord(
        run_id=run_id, operation="example", target="t", status="running", state="planned",
        machine_version="v", ecsops_version="0", started_at="2026-01-01T00:00:00+00:00",
        updated_at="2026-01-01T00:00:00+00:00",
    )


def _create(store: SqliteRunStore, run_id: str = "r1") -> Fence:
    lock = store.acquire_lock("t", run_id, "host:1", 300, now=0)
    fence = Fence(target="t", run_id=run_id, token=lock.token)
    store.create_run(_run(run_id), fence)
    return fence


def test_migrations_create_schema_from_empty(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "s.db"
    store = open_sqlite_store(path)
    store.close()
    conn = sqlite3.connect(path)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "transitions", "steps", "items", "locks", "_sqlite_migrations"} <= tables
    applied = {row[0] for row in conn.execute("SELECT name FROM _sqlite_migrations")}
    assert applied == known_migration_names()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_file_and_directory_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "state" / "s.db"
    open_sqlite_store(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_reopening_keeps_records(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_sqlite_store(path)
    fence = _create(store)
    store.checkpoint("r1", 0, fence, source="planned", dest="creating", trigger="plan")
    store.close()
    reopened = open_sqlite_store(path)
    assert reopened.get_run("r1").state == "creating"
    assert [t.dest for t in reopened.transitions("r1")] == ["creating"]


def test_checkpoint_refuses_a_stale_version(tmp_path: Path) -> None:
    store = open_sqlite_store(tmp_path / "s.db")
    fence = _create(store)
    store.checkpoint("r1", 0, fence, source="planned", dest="creating", trigger="plan")
    with pytest.raises(ConcurrentUpdateError):
        store.checkpoint("r1", 0, fence, source="planned", dest="creating", trigger="plan")
    assert len(store.transitions("r1")) == 1


def test_recorded_steps_are_never_rewritten(tmp_path: Path) -> None:
    store = open_sqlite_store(tmp_path / "s.db")
    fence = _create(store)
    store.record_intent("r1", "create", {"a": 1}, fence, lease_seconds=300, now=0)
    store.record_outcome("r1", "create", "succeeded", fence, result={"id": "x"})
    with pytest.raises(ValueError):
        store.record_intent("r1", "create", {"a": 2}, fence, lease_seconds=300, now=0)
    with pytest.raises(ConcurrentUpdateError):
        store.record_outcome("r1", "create", "failed", fence, error={"code": "X"})
    step = store.get_step("r1", "create")
    assert step is not None and step.status == "succeeded" and step.result == {"id": "x"}


def test_corrupt_store_gives_clear_error_and_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    before = _digest(path)
    with pytest.raises(StoreOpenError, match="not a readable ecsops database"):
        open_sqlite_store(path)
    result = run_ecsops(path, "runs")
    assert result.returncode == 2
    assert "not a readable ecsops database" in result.stderr
    assert "Traceback" not in result.stderr
    assert _digest(path) == before


def test_unwritable_location_gives_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = run_ecsops(blocker / "s.db", "runs")
    assert result.returncode == 2
    assert "cannot create the store" in result.stderr
    assert "--store" in result.stderr


def test_store_from_newer_ecsops_is_refused_and_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    open_sqlite_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('ecsops', 'm999_future', 'x')"
    )
    conn.commit()
    conn.close()
    before = _digest(path)
    result = run_ecsops(path, "runs")
    assert result.returncode == 2
    assert "newer ecsops" in result.stderr and "m999_future" in result.stderr
    assert _digest(path) == before


def test_store_locked_past_busy_timeout_gives_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    run_example(path, tmp_path / "ledger.json", "fake:widgets", "run-1")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = run_example(path, tmp_path / "ledger.json", "fake:widgets", "run-2", ECSOPS_STORE_BUSY_TIMEOUT="0.2")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 2, result.stderr
    assert "locked by another process" in result.stderr


def test_store_path_from_environment_and_flag(tmp_path: Path) -> None:
    env_store, flag_store = tmp_path / "env.db", tmp_path / "flag.db"
    run_example(env_store, tmp_path / "ledger.json", "fake:widgets", "run-1")
    listed = run_ecsops(env_store, "--store", str(flag_store), "runs", "--output", "json")
    assert listed.returncode == 0
    assert listed.json() == []
    assert [d["run_id"] for d in run_ecsops(env_store, "runs", "--output", "json").json()] == ["run-1"]


def test_m002_splits_data_into_facts_timers_and_one_reason(tmp_path: Path) -> None:
    """A store written before m002 keeps every run: deadlines become timers, reason/error become reason."""
    import json
    import sqlite3

    from sqlite_utils import Database

    from store.migrations import migrations
    from store.sqlite_store import open_sqlite_store

    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(str(path), isolation_level=None))
    migrations.apply(db, stop_before="m002_facts_timers_reason")
    row = {
        "operation": "deploy", "target": "ecs:c/s", "state": "waiting", "version": 3, "machine_version": "v",
        "ecsops_version": "0", "params": "{}", "started_by": "me", "ci": "{}", "started_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z", "finished_at": None,
    }
    old_data = {"deployment_id": "d1", "reason": "rolled back", "deadlines": {"deploy": 5.0}}
    db.table("runs").insert(
        {**row, "run_id": "a", "status": "rolled_back", "error": None, "data": json.dumps(old_data)}
    )
    db.table("runs").insert({**row, "run_id": "b", "status": "interrupted", "error": "lost the lock", "data": "{}"})
    db.close()

    store = open_sqlite_store(path)
    a, b = store.get_run("a"), store.get_run("b")
    assert (a.facts, a.timers, a.reason, a.version) == ({"deployment_id": "d1"}, {"deploy": 5.0}, "rolled back", 3)
    assert (b.facts, b.timers, b.reason) == ({}, {}, "lost the lock")


def test_m005_marks_runs_ended_under_an_old_final_status_as_finished(tmp_path: Path) -> None:
    """A store written when the store decided "finished" by status: a run left with such a status and no
    finished_at gets its updated_at as finished_at (and frees its lock); every other run is left as it was."""
    from sqlite_utils import Database

    from store.migrations import migrations
    from store.reader import open_sqlite_reader

    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(str(path), isolation_level=None))
    migrations.apply(db, stop_before="m005_finished_at")
    row = {
        "operation": "deploy", "target": "ecs:c/s", "state": "done", "version": 3, "machine_version": "v",
        "ecsops_version": "0", "params": "{}", "facts": "{}", "timers": "{}", "started_by": "me", "ci": "{}",
        "started_at": "2026-01-01T00:00:00+00:00", "updated_at": "2026-01-02T00:00:00+00:00",
    }
    ended = ("succeeded", "rolled_back", "rollback_failed", "failed", "superseded", "abandoned")
    for status in ended:
        db.table("runs").insert({**row, "run_id": status, "status": status, "finished_at": None})
    db.table("runs").insert({**row, "run_id": "stamped", "status": "succeeded",
                             "finished_at": "2026-01-01T12:00:00+00:00"})
    for status in ("running", "interrupted", "paused"):
        db.table("runs").insert({**row, "run_id": status, "status": status, "finished_at": None})
    db.table("locks").insert({"target": "ecs:c/s", "run_id": "rolled_back", "owner": "host:1", "token": 2,
                              "acquired_at": "x", "expires_at": 10_000.0})
    db.close()

    reader = open_sqlite_reader(path)  # read as it is: reading never migrates
    assert reader is not None and not reader.get_run("rolled_back").finished
    reader.close()

    store = open_sqlite_store(path)
    assert {run.run_id: run.finished_at for run in store.list_runs(RunFilter())} == {
        **{status: "2026-01-02T00:00:00+00:00" for status in ended},
        "stamped": "2026-01-01T12:00:00+00:00",
        "running": None, "interrupted": None, "paused": None,
    }
    assert store.get_run("rolled_back").finished and not store.get_run("paused").finished
    taken = store.acquire_lock("ecs:c/s", "next", "host:2", 60, now=100.0)  # its holder has finished
    assert (taken.run_id, taken.token) == ("next", 3)
    store.close()
