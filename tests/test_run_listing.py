"""Filtered run listings (ecsops.cli.run_listing): the indexes SQLite stores get for them (migration m007), and that
the listing read from run records gives exactly what filtering every run's history gives, in a bounded number of
store queries."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from store.migrations import known_migration_names, migrations
from store.models import RunFilter
from store.reader import open_sqlite_reader
from store.sqlite_store import open_sqlite_store

STARTED = "2026-01-02T03:04:05+00:00"


# ---- the migration --------------------------------------------------------------------------------------------
def _m006_store(path: Path) -> list[tuple[object, ...]]:
    """A store as ecsops wrote it before the listing indexes (migrations up to m006) with two runs; its run rows."""
    db = Database(sqlite3.connect(str(path), isolation_level=None))
    migrations.apply(db, stop_before="m007_listing_indexes")
    for run_id, target in (("a", "ecs:1:r:c/web"), ("b", "ecs:1:r:c/api")):
        db.table("runs").insert({
            "run_id": run_id, "operation": "example", "target": target, "status": "succeeded", "state": "done",
            "version": 2, "machine_version": "v", "ecsops_version": "0", "params": "{}", "facts": "{}", "timers": "{}",
            "ci": "{}", "started_by": "me@host", "started_at": STARTED, "updated_at": STARTED, "finished_at": STARTED,
        })
    rows = list(db.execute("SELECT * FROM runs ORDER BY rowid").fetchall())
    db.close()
    return rows


def _plan(path: Path, sql: str) -> str:
    conn = sqlite3.connect(path)
    try:
        return " | ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", ["x"]))
    finally:
        conn.close()


def test_the_listing_indexes_are_added_to_an_older_store_which_reads_the_same_without_them(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    rows = _m006_store(path)
    by_target = "SELECT * FROM runs WHERE target = ? ORDER BY started_at DESC, rowid DESC LIMIT 50"
    by_operation = "SELECT * FROM runs WHERE operation = ? ORDER BY started_at DESC, rowid DESC LIMIT 50"
    assert "TEMP B-TREE" in _plan(path, by_target)  # every run of the target read, then sorted
    reader = open_sqlite_reader(path)  # the plain reader does without m007: the same answers, found slower
    assert reader is not None
    try:
        assert reader.targets() == ["ecs:1:r:c/api", "ecs:1:r:c/web"]
        assert [run.run_id for run in reader.list_runs(RunFilter(target="ecs:1:r:c/web"))] == ["a"]
    finally:
        reader.close()
    path.chmod(0o444)
    path.parent.chmod(0o555)
    try:
        full = open_sqlite_store(path, read_only=True)  # m007 is read-compatible
        assert [run.run_id for run in full.list_runs(RunFilter(operation="example"))] == ["b", "a"]
        full.close()
    finally:
        path.parent.chmod(0o755)
        path.chmod(0o644)

    open_sqlite_store(path).close()
    conn = sqlite3.connect(path)
    try:
        applied = {row[0] for row in conn.execute("SELECT name FROM _sqlite_migrations")}
        assert list(conn.execute("SELECT * FROM runs ORDER BY rowid")) == rows
    finally:
        conn.close()
    assert applied == known_migration_names()
    for sql, index in ((by_target, "idx_runs_target_started_at"), (by_operation, "idx_runs_operation_started_at")):
        plan = _plan(path, sql)
        assert index in plan and "TEMP B-TREE" not in plan, plan  # read in order from the index, stopped at the limit
