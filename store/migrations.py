"""Schema of the SQLite store, created and evolved by named sqlite-utils migrations."""

from __future__ import annotations

import json
import secrets

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from store.schema import MIGRATION_SET

migrations = Migrations(MIGRATION_SET)


@migrations()
def m001_initial(db: Database) -> None:
    db.table("runs").create(
        {
            "run_id": str,
            "operation": str,
            "target": str,
            "status": str,
            "state": str,
            "version": int,
            "machine_version": str,
            "ecsops_version": str,
            "params": str,
            "data": str,
            "error": str,
            "started_by": str,
            "ci": str,
            "started_at": str,
            "updated_at": str,
            "finished_at": str,
        },
        pk="run_id",
        not_null={"operation", "target", "status", "state", "version", "started_at", "updated_at"},
    )
    db.table("runs").create_index(["started_at"])
    db.table("runs").create_index(["target", "status"])
    db.table("transitions").create(
        {
            "run_id": str,
            "seq": int,
            "item": str,
            "source": str,
            "dest": str,
            "trigger": str,
            "at": str,
        },
        pk=("run_id", "seq"),
        not_null={"source", "dest", "trigger", "at"},
        foreign_keys=[("run_id", "runs", "run_id")],
    )
    db.table("steps").create(
        {
            "run_id": str,
            "name": str,
            "status": str,
            "request": str,
            "result": str,
            "error": str,
            "started_at": str,
            "finished_at": str,
        },
        pk=("run_id", "name"),
        not_null={"status", "started_at"},
        foreign_keys=[("run_id", "runs", "run_id")],
    )
    db.table("items").create(
        {"run_id": str, "item_id": str, "state": str, "data": str, "updated_at": str},
        pk=("run_id", "item_id"),
        not_null={"state", "updated_at"},
        foreign_keys=[("run_id", "runs", "run_id")],
    )
    db.table("locks").create(
        {"target": str, "run_id": str, "owner": str, "acquired_at": str, "expires_at": float},
        pk="target",
        not_null={"run_id", "owner", "acquired_at", "expires_at"},
    )


@migrations()
def m002_facts_timers_reason(db: Database) -> None:
    """Split a run's untyped `data` into facts and timers; one `reason` replaces `error` and data.reason."""
    runs = db.table("runs")
    runs.add_column("timers", str)
    runs.add_column("reason", str)
    for run_id, data_text, error in db.execute("SELECT run_id, data, error FROM runs").fetchall():
        data = json.loads(data_text) if data_text else {}
        timers = data.pop("deadlines", {})
        reason = data.pop("reason", None) or error
        db.execute(
            "UPDATE runs SET data = ?, timers = ?, reason = ? WHERE run_id = ?",
            [json.dumps(data, sort_keys=True), json.dumps(timers, sort_keys=True), reason, run_id],
        )
    runs.transform(rename={"data": "facts"}, drop={"error"})


@migrations()
def m003_lock_tokens(db: Database) -> None:
    """Fencing tokens on locks; a free lock keeps its row (run_id NULL) so its token only grows.

    Also stamps the store with a random id in the file header (user_version), so a run can tell its
    store file from another one copied over it.
    """
    locks = db.table("locks")
    locks.add_column("token", int, not_null_default=0)
    # Locks held when the store is upgraded were acquired once: token 1, so the next taker gets 2.
    db.execute("UPDATE locks SET token = 1")
    locks.transform(not_null={"run_id": False, "owner": False, "acquired_at": False})
    db.execute(f"PRAGMA user_version = {secrets.randbelow(2**31 - 1) + 1}")


@migrations()
def m004_run_notes(db: Database) -> None:
    """Notes: an append-only audit trail of a run written by others than its driver (`ecsops approve`).

    Only adds a table: every recorded row stays as it was.
    """
    db.table("notes").create(
        {"run_id": str, "seq": int, "kind": str, "text": str, "who": str, "at": str},
        pk=("run_id", "seq"),
        not_null={"kind", "text", "who", "at"},
        foreign_keys=[("run_id", "runs", "run_id")],
    )


@migrations()
def m005_finished_at(db: Database) -> None:
    """A run is finished when its finished_at is set: the store no longer knows any operation's statuses.

    Fills finished_at (with updated_at, the time of the run's last write) for a run that ended under one of the
    final statuses ecsops had when the store decided by status. ecsops itself always wrote finished_at in the
    write that gave a run such a status, so this only mends rows written by other means.
    """
    db.execute(
        "UPDATE runs SET finished_at = updated_at WHERE finished_at IS NULL AND status IN "
        "('succeeded', 'rolled_back', 'rollback_failed', 'failed', 'superseded', 'abandoned')"
    )


@migrations()
def m006_run_messages(db: Database) -> None:
    """Messages: the journal of what a run's driver said while driving it (progress lines, stage marks), so that
    another process can follow the run from the store. Only adds a table: every recorded row stays as it was.
    """
    db.table("messages").create(
        {"run_id": str, "seq": int, "kind": str, "text": str, "at": str, "item": str},
        pk=("run_id", "seq"),
        not_null={"kind", "text", "at"},
        foreign_keys=[("run_id", "runs", "run_id")],
    )


@migrations()
def m007_listing_indexes(db: Database) -> None:
    """Indexes for listings by target and by operation, newest first: a target's runs, or a fleet's, are read from
    their index in started_at order and the read stops at the limit, instead of a walk of every run by started_at or a
    sort of all a target's runs. Only adds indexes: every recorded row stays as it was.
    """
    db.table("runs").create_index(["target", "started_at"])
    db.table("runs").create_index(["operation", "started_at"])


def known_migration_names() -> set[str]:
    """The migrations registered here (store.schema.MIGRATIONS names them without importing sqlite-utils)."""
    return {m.name for m in migrations._migrations}
