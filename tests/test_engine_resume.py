"""SIGKILL the example run at every state and inside its step, then prove `ecsops resume` finishes it."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from cli_helpers import run_ecsops, run_example

CRASH_POINTS = [
    "enter:planned",
    "checkpoint:creating",
    "enter:creating",
    "intent:create_widget",
    "call:create_widget",
    "checkpoint:waiting",
    "enter:waiting",
]


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_killed_run_resumes_to_success_with_one_side_effect(tmp_path: Path, crash_at: str) -> None:
    store, ledger = tmp_path / "ecsops.db", tmp_path / "ledger.json"

    killed = run_example(store, ledger, "fake:widgets", "run-1", ECSOPS_CRASH_AT=crash_at)
    assert killed.returncode == -signal.SIGKILL

    before = run_ecsops(store, "status", "run-1", "--output", "json").json()
    assert before["status"] == "running"  # a SIGKILLed process cannot mark itself; status says so

    resumed = run_ecsops(store, "resume", "run-1", "--output", "json")
    assert resumed.returncode == 0, resumed.stderr
    document = resumed.json()
    assert document["status"] == "succeeded"
    assert [(t["source"], t["dest"]) for t in document["transitions"]] == [
        ("planned", "creating"),
        ("creating", "waiting"),
        ("waiting", "done"),
    ]
    assert [t["seq"] for t in document["transitions"]] == [1, 2, 3]
    widgets = json.loads(ledger.read_text())["widgets"]
    assert widgets == [{"id": "w-1", "owner": "run-1"}]
    step = next(s for s in document["steps"] if s["name"] == "create_widget")
    expected_status = "reconciled" if crash_at == "call:create_widget" else "succeeded"
    assert step["status"] == expected_status
    assert document["widget_id"] == "w-1"
    assert document["in_flight"] == []


def test_step_in_flight_is_shown_by_status(tmp_path: Path) -> None:
    store, ledger = tmp_path / "ecsops.db", tmp_path / "ledger.json"
    run_example(store, ledger, "fake:widgets", "run-1", ECSOPS_CRASH_AT="call:create_widget")
    text = run_ecsops(store, "status", "run-1")
    assert text.returncode == 0
    assert "in flight create_widget" in text.stdout
    assert "planned -> creating" in text.stdout


def test_same_run_id_twice_does_the_work_once(tmp_path: Path) -> None:
    store, ledger = tmp_path / "ecsops.db", tmp_path / "ledger.json"
    first = run_example(store, ledger, "fake:widgets", "run-1")
    second = run_example(store, ledger, "fake:widgets", "run-1")
    assert first.returncode == second.returncode == 0
    assert "already ended (succeeded)" in second.stderr
    assert len(json.loads(ledger.read_text())["widgets"]) == 1
    assert first.json()["transitions"] == second.json()["transitions"]


def test_durable_wait_keeps_its_deadline_across_resume(tmp_path: Path) -> None:
    store, ledger = tmp_path / "ecsops.db", tmp_path / "ledger.json"
    killed = run_example(
        store, ledger, "fake:widgets", "run-1", "timeout=0", "ready_after_polls=99",
        ECSOPS_CRASH_AT="checkpoint:done,checkpoint:failed",
    )
    assert killed.returncode == -signal.SIGKILL
    deadline = run_ecsops(store, "status", "run-1", "--output", "json").json()
    assert deadline["status"] == "failed"


def test_failed_outcome_maps_to_exit_1(tmp_path: Path) -> None:
    store, ledger = tmp_path / "ecsops.db", tmp_path / "ledger.json"
    result = run_example(store, ledger, "fake:widgets", "run-1", "refuse=1")
    assert result.returncode == 1
    assert result.json()["status"] == "failed"
    assert not ledger.exists()


def test_an_unexpected_handler_error_fails_the_run_and_says_what_was_raised(tmp_path: Path) -> None:
    """A bug is not resumable: the run ends failed (exit 1) with the exception recorded, not `interrupted`."""
    store, ledger = tmp_path / "ecsops.db", tmp_path / "ledger.json"
    result = run_example(store, ledger, "fake:widgets", "run-1", "explode_in=waiting")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    document = result.json()
    assert (document["status"], document["state"]) == ("failed", "waiting")
    assert document["reason"] == "unexpected error in state waiting: RuntimeError: a bug in the waiting handler"
    assert document["finished_at"]
    again = run_ecsops(store, "resume", "run-1", "--output", "json")
    assert again.json()["status"] == "failed"  # finished: nothing is run again
    assert len(json.loads(ledger.read_text())["widgets"]) == 1
    # The lock is free: the next run on the target proceeds.
    assert run_example(store, ledger, "fake:widgets", "run-2").returncode == 0
