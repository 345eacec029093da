"""One running run per target: a second run is refused (exit 5) until abandon or lease expiry."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

from cli_helpers import run_ecsops, run_example


def _crash_holding_lock(store: Path, ledger: Path, **env: str) -> None:
    killed = run_example(store, ledger, "fake:widgets", "run-a", ECSOPS_CRASH_AT="enter:waiting", **env)
    assert killed.returncode == -signal.SIGKILL


def test_second_run_on_locked_target_is_refused_naming_the_holder(tmp_path: Path) -> None:
    store, ledger = tmp_path / "s.db", tmp_path / "ledger.json"
    _crash_holding_lock(store, ledger)

    second = run_example(store, ledger, "fake:widgets", "run-b")
    assert second.returncode == 5
    assert "locked by run run-a" in second.stderr
    assert run_ecsops(store, "status", "run-b").returncode == 2  # refused before any record was made

    other_target = run_example(store, tmp_path / "other.json", "fake:other", "run-c")
    assert other_target.returncode == 0


def test_abandon_releases_the_lock(tmp_path: Path) -> None:
    store, ledger = tmp_path / "s.db", tmp_path / "ledger.json"
    _crash_holding_lock(store, ledger)

    abandoned = run_ecsops(store, "abandon", "run-a", "--reason", "service checked by hand", "--output", "json")
    assert abandoned.returncode == 0  # abandoning succeeded
    assert abandoned.json()["status"] == "abandoned"
    assert abandoned.json()["reason"] == "service checked by hand"

    assert run_example(store, ledger, "fake:widgets", "run-b").returncode == 0
    assert run_ecsops(store, "resume", "run-a").returncode == 1  # abandoned stays abandoned
    assert run_ecsops(store, "abandon", "run-a").returncode == 2


def expire_lease(store: Path, target: str) -> None:
    """Let the lease of target's lock run out, as time passing would (its holder is dead: no heartbeat)."""
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE locks SET expires_at = ? WHERE target = ?", [time.time() - 1, target])


def test_expired_lease_lets_another_run_proceed(tmp_path: Path) -> None:
    store, ledger = tmp_path / "s.db", tmp_path / "ledger.json"
    _crash_holding_lock(store, ledger)
    expire_lease(store, "fake:widgets")

    assert run_example(store, ledger, "fake:widgets", "run-b").returncode == 0
    # The crashed run now finds its target taken over only if the new holder is live; it is done,
    # so resuming run-a can take the free lock again.
    assert run_ecsops(store, "resume", "run-a").returncode == 0


def test_lock_left_by_a_run_killed_after_its_final_checkpoint_is_not_held_against_others(tmp_path: Path) -> None:
    store, ledger = tmp_path / "s.db", tmp_path / "ledger.json"
    killed = run_example(store, ledger, "fake:widgets", "run-a", ECSOPS_CRASH_AT="checkpoint:done")
    assert killed.returncode == -signal.SIGKILL
    assert run_ecsops(store, "status", "run-a", "--output", "json").json()["status"] == "succeeded"

    assert run_example(store, ledger, "fake:widgets", "run-b").returncode == 0


def test_a_lease_that_is_not_a_positive_number_is_refused(tmp_path: Path) -> None:
    for lease in ("0", "-3", "soon", "nan"):
        refused = run_example(tmp_path / "s.db", tmp_path / "ledger.json", "fake:widgets", "run-a",
                              ECSOPS_LOCK_LEASE_SECONDS=lease)
        assert refused.returncode == 2, refused.stderr
        assert "ECSOPS_LOCK_LEASE_SECONDS" in refused.stderr and "above 0" in refused.stderr
    assert not (tmp_path / "ledger.json").exists()
