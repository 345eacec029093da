"""Run notes (an append-only audit trail written by others than the run's driver): the SQLite migration that
adds them, the plain reader, the run document, the `status` view and `store copy`. The store contract itself
(append, seq order, unknown run, concurrent writers) is in test_store_contract.py, against both backends."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_ecsops
from sqlite_helpers import applied_migrations, table_rows
from sqlite_utils import Database

from ecsops.cli.documents import history_document, run_document
from ecsops.cli.render import render_status
from store.migrations import known_migration_names, migrations
from store.models import Fence, RunFilter, RunHistory, RunRecord, RunUpdate
from store.reader import SqliteRunReader, StoreReader, open_reader, open_sqlite_reader
from store.sqlite_store import SqliteRunStore, open_sqlite_store

STARTED = "2026-01-02T03:04:05+00:00"
OLD_TABLES = ("runs", "transitions", "steps", "items", "locks")


def _record(run_id: str, status: str = "succeeded") -> RunRecord:
    return RunRecord(
        run_id=run_id, operation="example", target=f"fake:{run_id}", status=status, state=status,
        machine_version="v1", ecsops_version="0.1.0", started_at=STARTED, updated_at=STARTED, started_by="me@host",
    )


def _started(store: SqliteRunStore, run_id: str, status: str = "succeeded") -> Fence:
    lock = store.acquire_lock(f"fake:{run_id}", run_id, "me:1", 300, now=time.time())
    fence = Fence(target=lock.target, run_id=run_id, token=lock.token)
    store.create_run(_record(run_id, status), fence)
    return fence


@pytest.fixture
def noted_store(tmp_path: Path) -> Path:
    """A current store: run "a" (finished, two notes, a transition) and run "b" (running, no notes)."""
    path = tmp_path / "s.db"
    store = open_sqlite_store(path)
    fence = _started(store, "a", status="running")
    store.add_note("a", "approve", "approved hook h-1 of deployment ecs-svc/1", "alice@laptop")
    store.checkpoint("a", 0, fence, source="planned", dest="succeeded", trigger="done",
                     update=RunUpdate(status="succeeded", finished_at=STARTED))
    store.add_note("a", "comment", "checked the service by hand", "bob@ci-7")
    store.release_lock(fence)
    _started(store, "b", status="running")
    store.close()
    return path


def _m003_store(path: Path) -> None:
    """A store as ecsops wrote it before notes (migrations up to m003), with a row in every table."""
    db = Database(sqlite3.connect(str(path), isolation_level=None))
    migrations.apply(db, stop_before="m004_run_notes")
    db.table("runs").insert({
        "run_id": "old", "operation": "example", "target": "fake:w", "status": "running", "state": "waiting",
        "version": 2, "machine_version": "v", "ecsops_version": "0", "params": "{}", "facts": '{"x": 1}',
        "timers": "{}", "ci": "{}", "started_by": "me@host", "started_at": STARTED, "updated_at": STARTED,
    })
    db.table("transitions").insert({"run_id": "old", "seq": 1, "item": None, "source": "planned", "dest": "waiting",
                                    "trigger": "plan", "at": STARTED})
    db.table("steps").insert({"run_id": "old", "name": "call", "status": "succeeded", "request": '{"a": 1}',
                              "result": '{"b": 2}', "error": None, "started_at": STARTED, "finished_at": STARTED})
    db.table("items").insert({"run_id": "old", "item_id": "i-1", "state": "pending", "data": "{}",
                              "updated_at": STARTED})
    db.table("locks").insert({"target": "fake:w", "run_id": "old", "owner": "h:1", "token": 4, "acquired_at": STARTED,
                              "expires_at": 99.0})
    db.close()


# ---- the migration ------------------------------------------------------------------------------------------
def test_a_store_at_m003_upgrades_to_notes_losing_nothing(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _m003_store(path)
    before = {table: table_rows(path, table) for table in OLD_TABLES}
    assert "m004_run_notes" not in applied_migrations(path)

    store = open_sqlite_store(path)
    assert applied_migrations(path) == known_migration_names()
    assert {table: table_rows(path, table) for table in OLD_TABLES} == before
    history = store.history("old")
    assert history is not None and history.notes == []
    assert (history.run.facts, [t.dest for t in history.transitions], history.steps[0].result) == (
        {"x": 1}, ["waiting"], {"b": 2})
    note = store.add_note("old", "approve", "approved after the upgrade", "alice@host")
    assert note.seq == 1 and store.notes("old") == [note]
    lock = store.get_lock("fake:w")
    assert lock is not None and (lock.run_id, lock.token) == ("old", 4)
    store.close()
    open_sqlite_store(path).close()  # opening again applies nothing more
    assert table_rows(path, "notes") == [("old", 1, "approve", "approved after the upgrade", "alice@host", note.at)]


def test_notes_keep_their_run_and_are_refused_for_a_missing_one_by_the_schema(tmp_path: Path) -> None:
    store = open_sqlite_store(tmp_path / "s.db")
    conn = store.connection()
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO notes (run_id, seq, kind, text, who, at) VALUES ('nope', 1, 'k', 't', 'w', 'x')")
    _started(store, "a")
    store.add_note("a", "approve", "one", "w")
    with pytest.raises(sqlite3.IntegrityError):  # a seq is never written twice
        conn.execute("INSERT INTO notes (run_id, seq, kind, text, who, at) VALUES ('a', 1, 'k', 't', 'w', 'x')")
    store.close()


# ---- reading: the plain reader, and stores from before notes ------------------------------------------------
def test_the_plain_reader_reads_notes_as_the_full_store_does(noted_store: Path) -> None:
    reader = open_reader(str(noted_store))
    assert isinstance(reader, SqliteRunReader)
    full = StoreReader(open_sqlite_store(noted_store))
    light = reader.history("a")
    assert light is not None
    assert [(n.seq, n.kind, n.text, n.who, n.at) for n in light.notes] == [
        (n.seq, n.kind, n.text, n.who, n.at) for n in full.store.notes("a")
    ]
    assert [(n.seq, n.who) for n in reader.notes("a")] == [(1, "alice@laptop"), (2, "bob@ci-7")]
    by_run = {h.run.run_id: [n.seq for n in h.notes] for h in reader.histories(RunFilter())}
    assert by_run == {"a": [1, 2], "b": []}
    for run_id in ("a", "b"):
        assert run_document(reader, reader.get_run(run_id)) == run_document(full.store, full.get_run(run_id))
    full.close()
    reader.close()


def test_a_store_at_m003_is_read_as_it_is_with_no_notes(tmp_path: Path) -> None:
    """The plain reader reads a store from before notes without migrating it; so does a read-only full store."""
    path = tmp_path / "old.db"
    _m003_store(path)
    reader = open_sqlite_reader(path)
    assert reader is not None
    history = reader.history("old")
    assert history is not None and list(history.notes) == [] and [t.seq for t in history.transitions] == [1]
    assert [list(h.notes) for h in reader.histories(RunFilter())] == [[]]
    reader.close()

    shown = run_ecsops(path, "status", "old", "--output", "json")
    assert shown.returncode == 0, shown.stderr
    assert shown.json()["notes"] == []
    assert "notes" not in run_ecsops(path, "status", "old").stdout.splitlines()
    assert run_ecsops(path, "runs", "--output", "json").json()[0]["notes"] == []
    assert "m004_run_notes" not in applied_migrations(path)  # reading never migrates

    read_only = open_sqlite_store(path, read_only=True)
    full = read_only.history("old")
    assert full is not None and full.notes == [] and read_only.notes("old") == []
    assert [h.notes for h in read_only.histories(RunFilter())] == [[]]
    read_only.close()


# ---- the run document and the status view -------------------------------------------------------------------
def test_the_run_document_carries_notes_oldest_first(noted_store: Path) -> None:
    store = open_sqlite_store(noted_store)
    document = run_document(store, store.get_run("a"))
    assert [{k: v for k, v in note.items() if k != "at"} for note in document["notes"]] == [
        {"seq": 1, "kind": "approve", "text": "approved hook h-1 of deployment ecs-svc/1", "who": "alice@laptop"},
        {"seq": 2, "kind": "comment", "text": "checked the service by hand", "who": "bob@ci-7"},
    ]
    assert [note["at"] for note in document["notes"]] == [note.at for note in store.notes("a")]
    assert run_document(store, store.get_run("b"))["notes"] == []
    assert history_document(RunHistory(run=store.get_run("b")))["notes"] == []
    store.close()


def test_status_lists_notes_one_line_each_only_when_there_are_some(noted_store: Path) -> None:
    shown = run_ecsops(noted_store, "status", "a")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    notes = lines[lines.index("notes") + 1 :]
    assert len(notes) == 2
    assert notes[0].split(maxsplit=3)[2:] == ["alice@laptop:", "approved hook h-1 of deployment ecs-svc/1"]
    assert notes[1].endswith("bob@ci-7: checked the service by hand")
    assert "notes" not in run_ecsops(noted_store, "status", "b").stdout.splitlines()
    listed = run_ecsops(noted_store, "runs", "--output", "json").json()
    noted = run_ecsops(noted_store, "status", "a", "--output", "json").json()["notes"]
    assert [d["notes"] for d in listed] == [[], noted] and len(noted) == 2


def test_render_status_shows_the_time_who_and_text_of_each_note() -> None:
    document: dict[str, Any] = {
        "run_id": "r", "operation": "deploy", "target": "ecs:c/s", "status": "running", "state": "waiting",
        "started_at": STARTED, "started_by": "me@host", "ecsops_version": "0", "machine_version": "m",
        "transitions": [], "steps": [], "in_flight": [],
        "notes": [{"seq": 1, "kind": "approve", "text": "approved hook h-1", "who": "alice@laptop",
                   "at": "2026-01-02T03:05:06.123456+00:00"}],
    }
    lines = render_status(document).splitlines()
    assert lines[-2:] == ["notes", "  2026-01-02 03:05:06  alice@laptop: approved hook h-1"]
    assert "notes" not in render_status({**document, "notes": []}).splitlines()


# ---- store copy ---------------------------------------------------------------------------------------------
def test_store_copy_carries_notes(noted_store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    store = open_sqlite_store(noted_store)
    store.update_run("b", 0, None, RunUpdate(status="abandoned", finished_at=STARTED))  # finished, so copied
    store.close()
    copied = run_ecsops(noted_store, "store", "copy", "--from", str(noted_store), "--to", str(copy))
    assert copied.returncode == 0, copied.stderr
    assert "copied 2 run(s) (1 transitions, 0 steps, 0 items, 2 notes)" in copied.stdout
    source, destination = open_sqlite_store(noted_store), open_sqlite_store(copy)
    assert destination.notes("a") == source.notes("a") and len(source.notes("a")) == 2
    assert destination.history("a") == source.history("a")
    assert destination.add_note("a", "comment", "noted in the copy", "carol@host").seq == 3
    source.close()
    destination.close()
