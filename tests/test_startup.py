"""Start-up: `status` and `runs` read a current SQLite store without pydantic, sqlite-utils, transitions or boto3,
and what they show is what the full store and the operations' specs would show."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import cli_env, run_ecsops, run_example

from ecsops.cli.documents import run_document
from ecsops.cli.operations import BUILTIN, BUILTIN_DOCUMENT_FIELDS, get_operation
from ecsops.deploy.facts import DeployFacts
from ecsops.replace.document import INSTANCE_FIELDS
from store.migrations import known_migration_names
from store.models import Fence, RunFilter, RunRecord
from store.reader import SqliteRunReader, StoreReader, open_reader, open_sqlite_reader
from store.schema import MIGRATIONS
from store.sqlite_store import open_sqlite_store

HEAVY = ("pydantic", "sqlite_utils", "transitions", "boto3", "botocore", "moto", "rich")


def _imported_by(store: Path, *args: str) -> tuple[str, list[str]]:
    """Run `ecsops ARGS` in a fresh interpreter; return its stdout and the heavy packages it imported."""
    probe = (
        "import sys\n"
        "from ecsops.cli.app import app\n"
        f"try:\n    app({list(args)!r})\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=cli_env(store, ECSOPS_OPERATION_PLUGINS=""), timeout=60)
    heavy_line = next(line for line in result.stdout.splitlines() if line.startswith("HEAVY"))
    return result.stdout, eval(heavy_line.removeprefix("HEAVY "))


def _record(run_id: str, operation: str, **fields: Any) -> RunRecord:
    values: dict[str, Any] = {
        "run_id": run_id, "operation": operation, "target": f"t:{run_id}", "status": "succeeded",
        "state": "succeeded", "machine_version": "v1", "ecsops_version": "0.1.0",
        "started_at": f"2026-01-0{len(run_id)}T00:00:00+00:00", "updated_at": "2026-01-09T00:00:00+00:00",
        "started_by": "me@host",
    }
    return RunRecord(**{**values, **fields})


def _every_fact() -> dict[str, Any]:
    """Each deploy fact set to a value naming it, so a document field reading any fact shows up."""
    facts: dict[str, Any] = {name: f"<{name}>" for name in DeployFacts.model_fields}
    facts["task_failures"] = {"<deployment>": {"failed_tasks": 3, "reasons": [{"text": "<why>", "count": 3}]}}
    return facts


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A current store with a deploy run, a replace-instances run with one instance, and an unknown operation's."""
    path = tmp_path / "s.db"
    store = open_sqlite_store(path)

    def fence(run_id: str) -> Fence:
        lock = store.acquire_lock(f"t:{run_id}", run_id, "me:1", 300, now=time.time())
        return Fence(target=lock.target, run_id=run_id, token=lock.token)

    d1, rr2, xyz3 = fence("d1"), fence("rr2"), fence("xyz3")
    lease = {"lease_seconds": 300, "now": time.time()}
    store.create_run(_record("d1", "deploy", params={"desired_count": 3}, facts=_every_fact(), reason="why"), d1)
    store.checkpoint("d1", 0, d1, source="planned", dest="registering", trigger="planned")
    store.record_intent("d1", "register_task_definition", {"family": "web"}, d1, **lease)
    store.record_outcome("d1", "register_task_definition", "succeeded", d1, result={"arn": "web:2"})
    store.record_intent("d1", "update_service", {"service": "web"}, d1, **lease)
    store.add_note("d1", "approve", "approved hook h-1", "alice@laptop")
    store.create_run(_record("rr2", "replace-instances", params={"asg": "g", "cluster": "c"},
                             facts={"not_in_cluster": ["i-9"], "skipped": []}), rr2)
    store.put_item("rr2", "i-1", "detaching", {key: f"<{key}>" for key in INSTANCE_FIELDS}, rr2)
    store.checkpoint("rr2", 0, rr2, source="detaching", dest="draining", trigger="detached", item="i-1")
    store.create_run(_record("xyz3", "retired-operation", status="failed", reason="gone"), xyz3)
    store.close()
    return path


@pytest.mark.process
def test_status_and_runs_import_nothing_heavy(store_path: Path) -> None:
    for args in (["status", "d1"], ["status", "rr2"], ["runs"], ["runs", "--output", "json"],
                 ["runs", "--status", "rolled_back"]):
        stdout, heavy = _imported_by(store_path, *args)
        assert heavy == [], (args, heavy)
        assert "Traceback" not in stdout
    stdout, _ = _imported_by(store_path, "status", "d1")
    assert "new task definition" in stdout and "<new_task_definition>" in stdout
    assert "alice@laptop: approved hook h-1" in stdout


def test_reader_shows_what_the_full_store_shows(store_path: Path) -> None:
    reader = open_reader(str(store_path))
    assert isinstance(reader, SqliteRunReader)
    full = StoreReader(open_sqlite_store(store_path))
    for query in (RunFilter(), RunFilter(operation="deploy"), RunFilter(status="failed"), RunFilter(limit=1),
                  RunFilter(since="2026-01-03T00:00:00+00:00"), RunFilter(target="t:rr2")):
        light_runs, full_runs = reader.list_runs(query), full.list_runs(query)
        assert [r.run_id for r in light_runs] == [r.run_id for r in full_runs], query
        for light_run, full_run in zip(light_runs, full_runs, strict=True):
            assert run_document(reader, light_run) == run_document(full.store, full.get_run(full_run.run_id))
    assert [r.run_id for r in reader.list_runs(RunFilter())] == ["xyz3", "rr2", "d1"]


def test_builtin_document_fields_are_the_specs(store_path: Path) -> None:
    """The light modules `status` uses give exactly what each operation's spec declares."""
    assert set(BUILTIN_DOCUMENT_FIELDS) == set(BUILTIN)
    store = open_sqlite_store(store_path)
    reader = open_reader(str(store_path))
    for run_id in ("d1", "rr2"):
        run = store.get_run(run_id)
        spec_fields = get_operation(run.operation).document_fields(run, store.items(run_id))
        document = run_document(reader, reader.get_run(run_id))
        assert {key: document[key] for key in spec_fields} == spec_fields
        assert any(value not in (None, [], {}) for value in spec_fields.values())


def test_reader_schema_is_the_stores(tmp_path: Path) -> None:
    assert known_migration_names() == MIGRATIONS


def test_stores_the_reader_cannot_vouch_for_go_to_the_full_backend(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    assert open_sqlite_reader(missing) is None
    assert run_ecsops(missing, "runs", "--output", "json").json() == []
    assert missing.exists()  # created by the full backend, as before

    old = tmp_path / "old.db"
    open_sqlite_store(old).close()
    conn = sqlite3.connect(old)
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm002_facts_timers_reason'")
    conn.commit()
    conn.close()
    assert open_sqlite_reader(old) is None

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not sqlite" * 200)
    assert open_sqlite_reader(garbage) is None


def test_status_of_an_unknown_run_exits_2_through_the_reader(store_path: Path) -> None:
    result = run_ecsops(store_path, "status", "nope")
    assert result.returncode == 2
    assert "no run with id 'nope'" in result.stderr


def test_runs_lists_an_example_run_read_by_the_reader(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    run_example(store, tmp_path / "a.json", "fake:a", "run-1")
    assert isinstance(open_reader(str(store)), SqliteRunReader)
    assert "example" in run_ecsops(store, "status", "run-1").stdout


@pytest.mark.process
def test_a_store_at_the_current_schema_opens_for_writing_without_sqlite_utils(tmp_path: Path) -> None:
    """sqlite-utils is for migrating only: a command writing to a current store does not pay for importing it."""
    path = tmp_path / "current.db"
    open_sqlite_store(path).close()  # created and migrated
    probe = (
        "import sys\n"
        "from store.open import open_store\n"
        f"store = open_store({str(path)!r})\n"
        "store.close()\n"
        "print('sqlite_utils' in sys.modules, 'store.migrations' in sys.modules)\n"
    )
    reopened = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert reopened.stdout.split() == ["False", "False"], reopened.stderr
    fresh = subprocess.run([sys.executable, "-c", probe.replace(str(path), str(tmp_path / "new.db"))],
                           capture_output=True, text=True, timeout=60)
    assert fresh.stdout.split() == ["True", "True"], fresh.stderr
