"""A store that fails under a run (issue 9, cases 5-7; issue 12): removed, replaced, overwritten, full, shared.

Each failure stops the run before its next mutating AWS call, exits 1 with one line saying what
happened (no traceback), and never prints success for a run whose record could not be written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_helpers import PROG_NAME, Result, cli_env, run_ecsops, run_example, start_ecsops, start_process
from deploy_helpers import TARGET, frozen_demo, read_until, start_deploy

from ecsops.sim.server import SimServer
from store.sqlite_store import open_sqlite_store

WAL_FRAME = 4096 + 24  # one page in the WAL


def _another_store(tmp_path: Path) -> Path:
    other = tmp_path / "other" / "s.db"
    run_example(other, tmp_path / "other-ledger.json", "fake:other", "someone-else")
    return other


def _remove(store: Path, tmp_path: Path) -> None:
    for path in (store, Path(f"{store}-wal"), Path(f"{store}-shm")):
        path.unlink(missing_ok=True)


def _rename(store: Path, tmp_path: Path) -> None:
    store.rename(tmp_path / "moved.db")


def _replace(store: Path, tmp_path: Path) -> None:
    os.replace(_another_store(tmp_path), store)  # a new file under the same name


def _overwrite_with_another_store(store: Path, tmp_path: Path) -> None:
    store.write_bytes(_another_store(tmp_path).read_bytes())  # same file, other content


def _overwrite_with_garbage(store: Path, tmp_path: Path) -> None:
    with open(store, "r+b") as handle:
        handle.write(b"not a database any more " * 200)


CHANGES: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "removed": (_remove, "was removed or renamed"),
    "renamed": (_rename, "was removed or renamed"),
    "replaced": (_replace, "was replaced by another file"),
    "overwritten-by-another-store": (_overwrite_with_another_store, "was overwritten with another store"),
    "overwritten-with-garbage": (_overwrite_with_garbage, "was overwritten"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_store_changed_under_a_waiting_deploy_stops_it_before_the_rollback(
    tmp_path: Path, aws_env: SimServer, change: str
) -> None:
    """Case 5: the deploy used to exit 0 with its record gone, or give a traceback after changing AWS."""
    store = tmp_path / "s.db"
    aws_env.reset(frozen_demo().model_copy(update={"stuck_services": ["web"]}))
    process = start_deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "r", "--timeout", "2m",
                           "--output", "json")
    read_until(process, " left")
    act, message = CHANGES[change]
    act(store, tmp_path)
    aws_env.advance(180)  # the wait times out: next would come the rollback's UpdateService
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 1, stderr
    assert stdout == ""
    assert "Traceback" not in stderr
    assert message in stderr and str(store) in stderr
    assert "stopped before its next AWS call" in stderr
    assert aws_env.counts()["ecs:UpdateService"] == 1  # no rollback was sent on an unrecorded run


def test_store_removed_under_a_deploy_that_then_succeeds_does_not_report_success(
    tmp_path: Path, aws_env: SimServer
) -> None:
    store = tmp_path / "s.db"
    aws_env.reset(frozen_demo())
    process = start_deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "r", "--output", "json")
    read_until(process, " left")
    _remove(store, tmp_path)
    aws_env.advance(600)  # the deployment completes; the run cannot record it
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert stdout == "" and "succeeded" not in stderr
    assert "was removed or renamed" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("pages_of_room", [0, 2, 4, 6, 8, 10, 12])
def test_a_store_that_cannot_be_written_fails_in_one_line_and_the_run_resumes_once_it_can(
    tmp_path: Path, aws_env: SimServer, pages_of_room: int
) -> None:
    """Case 6: a raw sqlite3 traceback, and the record left `running` with a stale lock.

    The deploy runs under RLIMIT_FSIZE: the store file may not grow past a few pages of WAL, so its
    writes fail like a full disk (the OS refuses them; SQLite reports an I/O error). Each limit makes
    a different write the first to fail, from the intent of the first step to the final checkpoint.
    """
    store = tmp_path / "s.db"
    open_sqlite_store(store).close()  # migrated and checkpointed: the WAL starts empty
    limit = store.stat().st_size + pages_of_room * WAL_FRAME

    process = start_ecsops(store, "deploy", *TARGET, "--poll-interval", "0", "--container-image", "app=nginx:1.27",
                           "--run-id", "full", "--output", "json", file_size_limit=limit)
    stdout, stderr = process.communicate(timeout=60)
    full = Result(process.returncode, stdout, stderr)
    assert full.returncode == 1, full.stderr
    assert full.stdout == ""
    assert "Traceback" not in full.stderr
    errors = [line for line in full.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "was not written" in errors[0], full.stderr

    resumed = run_ecsops(store, "resume", "full", "--output", "json")  # space is back
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.json()["status"] == "succeeded"
    assert aws_env.counts()["ecs:UpdateService"] == 1
    assert aws_env.counts()["ecs:RegisterTaskDefinition"] == 1


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root in a privileged container)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_really_full_disk_fails_in_one_line_and_the_run_resumes_after_space_is_freed(
    tmp_path: Path, aws_env: SimServer
) -> None:
    """Case 6 on a real full file system: a small tmpfs filled up with ballast while the deploy waits."""
    with _tmpfs(tmp_path / "small", "1m") as disk:
        store = disk / "s.db"
        aws_env.reset(frozen_demo())
        process = start_deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "full",
                               "--output", "json")
        read_until(process, " left")
        ballast = disk / "ballast"
        fd = os.open(ballast, os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)
        aws_env.advance(600)
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 1, stderr
        assert stdout == "" and "Traceback" not in stderr
        assert "the disk is full" in stderr or "I/O error" in stderr
        ballast.unlink()  # space is back
        resumed = run_ecsops(store, "resume", "full", "--output", "json")
        assert resumed.returncode == 0, resumed.stderr
        assert resumed.json()["status"] == "succeeded"
        assert aws_env.counts()["ecs:UpdateService"] == 1


def test_several_processes_opening_a_fresh_store_at_once_all_work(tmp_path: Path) -> None:
    """Case 7: one used to fail after 10 ms with "stayed locked" (migration or PRAGMA journal_mode)."""
    for attempt in range(3):
        store = tmp_path / f"fresh-{attempt}" / "s.db"
        commands = [("ecsops", [PROG_NAME, "runs", "--output", "json"]) for _ in range(3)] + [
            ("example", [str(Path(__file__).parent / "example_cli.py"), str(tmp_path / f"l{attempt}-{n}.json"),
                         f"fake:w{n}", f"run-{n}"])
            for n in range(3)
        ]
        processes = [start_process(entry, argv, cli_env(store)) for entry, argv in commands]
        outcomes = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in processes]
        assert [code for code, _ in outcomes] == [0] * len(commands), outcomes
        listed = run_ecsops(store, "runs", "--output", "json").json()
        assert sorted(run["run_id"] for run in listed) == ["run-0", "run-1", "run-2"]


# ---- issue 12: auditing a store that cannot be written -----------------------------------------------------
@contextlib.contextmanager
def _read_only_copy(store: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of store in a directory nobody may write to (a read-only mount when running as root)."""
    if os.geteuid() != 0:
        audit = tmp_path / "audit"
        audit.mkdir()
        copy = audit / "s.db"
        shutil.copy(store, copy)
        copy.chmod(0o444)
        audit.chmod(0o555)
        try:
            yield copy
        finally:
            audit.chmod(0o755)
        return
    with _tmpfs(tmp_path / f"audit-{uuid.uuid4().hex[:6]}", "4m") as audit:
        copy = audit / "s.db"
        shutil.copy(store, copy)
        subprocess.run(["mount", "-o", "remount,ro", str(audit)], check=True)
        yield copy


def test_runs_and_status_read_a_copied_store_in_a_read_only_place(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    assert run_example(store, tmp_path / "ledger.json", "fake:widgets", "run-1").returncode == 0
    with _read_only_copy(store, tmp_path) as copy:
        assert not os.access(copy.parent, os.W_OK)
        listed = run_ecsops(copy, "runs", "--output", "json")
        assert listed.returncode == 0, listed.stderr
        assert [run["run_id"] for run in listed.json()] == ["run-1"]
        shown = run_ecsops(copy, "status", "run-1")
        assert shown.returncode == 0, shown.stderr
        assert "planned -> creating" in shown.stdout
        assert sorted(path.name for path in copy.parent.iterdir()) == ["s.db"]  # nothing was written beside it


def test_a_read_only_store_with_an_older_schema_says_how_to_upgrade_it(tmp_path: Path) -> None:
    import sqlite3

    from sqlite_utils import Database

    from store.migrations import migrations

    old = tmp_path / "old.db"
    db = Database(sqlite3.connect(str(old), isolation_level=None))
    migrations.apply(db, stop_before="m002_facts_timers_reason")
    db.close()
    with _read_only_copy(old, tmp_path) as copy:
        listed = run_ecsops(copy, "runs")
        assert listed.returncode == 2, listed.stderr
        assert "older schema" in listed.stderr and "m002_facts_timers_reason" in listed.stderr
        assert "copy it to a writable place" in listed.stderr


def test_a_read_only_store_missing_only_the_lock_migration_is_still_read(tmp_path: Path) -> None:
    import sqlite3

    from sqlite_utils import Database

    from store.migrations import migrations

    old = tmp_path / "old.db"
    db = Database(sqlite3.connect(str(old), isolation_level=None))
    migrations.apply(db, stop_before="m003_lock_tokens")
    db.table("runs").insert({
        "run_id": "before-locks", "operation": "example", "target": "fake:w", "status": "succeeded",
        "state": "done", "version": 3, "machine_version": "v", "ecsops_version": "0", "params": "{}",
        "facts": "{}", "timers": "{}", "ci": "{}", "started_by": "me", "started_at": "2026-01-01T00:00:00+00:00",
        "updated_at": "2026-01-01T00:00:00+00:00",
    })
    db.close()
    with _read_only_copy(old, tmp_path) as copy:
        listed = run_ecsops(copy, "runs", "--output", "json")
        assert listed.returncode == 0, listed.stderr
        assert [run["run_id"] for run in listed.json()] == ["before-locks"]


def test_a_store_path_below_a_file_says_which_parent_is_not_a_directory(tmp_path: Path) -> None:
    """Issue 12: `--store /etc/hostname/ecsops.db` used to say "File exists"."""
    blocker = tmp_path / "hostname"
    blocker.write_text("box\n")
    for command in (["runs"], ["status", "r"]):
        result = run_ecsops(blocker / "deeper" / "ecsops.db", *command)
        assert result.returncode == 2
        assert f"{blocker} is not a directory" in result.stderr
        assert "File exists" not in result.stderr


def test_old_store_rows_survive_the_lock_migration(tmp_path: Path) -> None:
    """m003: a lock held in an old store keeps its holder, gets token 1; runs are untouched."""
    import sqlite3

    from sqlite_utils import Database

    from store.migrations import migrations

    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(str(path), isolation_level=None))
    migrations.apply(db, stop_before="m003_lock_tokens")
    db.table("locks").insert({"target": "fake:w", "run_id": "r0", "owner": "h:1", "acquired_at": "x",
                              "expires_at": 99.0})
    db.close()
    store = open_sqlite_store(path)
    lock = store.get_lock("fake:w")
    assert lock is not None and (lock.run_id, lock.owner, lock.token, lock.expires_at) == ("r0", "h:1", 1, 99.0)
    taken = store.acquire_lock("fake:w", "r1", "h:2", 60, now=100.0)  # expired: taken, token raised
    assert (taken.run_id, taken.token) == ("r1", 2)
    store.close()
    assert json.loads(json.dumps(sqlite3.connect(path).execute("PRAGMA user_version").fetchone()))[0] > 0
