"""One answer to "is the lock's process still there?" (issue 18): `status`, `resume` and `abandon` agree, also about
a process that was killed but not yet reaped by its parent (a zombie), whose lease has not run out."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import run_ecsops, run_example

from machines.liveness import owner_alive


@pytest.fixture
def zombie() -> Iterator[int]:
    """The pid of a child of this process that was SIGKILLed and is not reaped: it still answers kill(pid, 0)."""
    child = subprocess.Popen(["sleep", "60"])
    child.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline, "the killed child never became a zombie"
        time.sleep(0.01)
    try:
        yield child.pid
    finally:
        child.wait()


def _crashed_run(store: Path, ledger: Path, target: str, run_id: str, owner: str) -> None:
    """A run killed while waiting, whose lock is then held by `owner` with most of a lease left."""
    killed = run_example(store, ledger, target, run_id, ECSOPS_CRASH_AT="enter:waiting")
    assert killed.returncode == -signal.SIGKILL
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE locks SET owner = ?, expires_at = ? WHERE run_id = ?", [owner, time.time() + 300, run_id])


def test_a_zombie_owner_is_gone(zombie: int) -> None:
    assert owner_alive(f"{socket.gethostname()}:{zombie}") is False
    assert owner_alive(f"{socket.gethostname()}:1") is True  # init: someone else's live process
    assert owner_alive(f"another-host.example:{zombie}") is None


def test_status_resume_and_abandon_agree_about_a_zombie_owner(tmp_path: Path, zombie: int) -> None:
    store, owner = tmp_path / "s.db", f"{socket.gethostname()}:{zombie}"
    _crashed_run(store, tmp_path / "a.json", "fake:a", "run-a", owner)
    _crashed_run(store, tmp_path / "b.json", "fake:b", "run-b", owner)

    for run_id in ("run-a", "run-b"):
        lock = run_ecsops(store, "status", run_id, "--output", "json").json()["lock"]
        assert (lock["owner"], lock["alive"]) == (owner, False)
        assert lock["next"] == f"ecsops resume {run_id}" and "is gone" in lock["why"]

    resumed = run_ecsops(store, "resume", "run-a", "--output", "json")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.json()["status"] == "succeeded"

    abandoned = run_ecsops(store, "abandon", "run-b", "--output", "json")
    assert abandoned.returncode == 0, abandoned.stderr
    assert abandoned.json()["status"] == "abandoned"
