"""Locks that hold (issue 9, cases 2-4): fencing of a stalled run, a lease a live run keeps, racing resumes.

Real processes against the simulator. A run keeps its lease in its own clock, the simulator's virtual time
under ECSOPS_CLOCK=sim: a stalled run's lease runs out when the test advances that clock. Case 3 is about the
heartbeat keeping a lease across real time, so its processes run on the real clock and it waits real seconds.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import cli_env, run_ecsops, run_example, start_ecsops
from deploy_helpers import deploy, frozen_demo, read_until, service, start_deploy, task_definition, wait_until

from ecsops.sim.server import SimServer

SHORT_LEASE = "2"


def is_stopped(process: Any) -> bool:
    """True once the process stopped itself (ECSOPS_STOP_AT): state T in /proc/PID/stat."""
    stat = Path(f"/proc/{process.pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "T"


def lease_left(store: Path, run_id: str, now: float) -> float | None:
    """Seconds left at `now` (in the clock the run keeps its lease in) on the lease run_id holds, or None when
    it holds no lock."""
    with sqlite3.connect(store) as conn:
        row = conn.execute("SELECT expires_at FROM locks WHERE run_id = ?", [run_id]).fetchone()
    return None if row is None else float(row[0]) - now


def status_of(store: Path, run_id: str) -> dict[str, object]:
    shown = run_ecsops(store, "status", run_id, "--output", "json")
    assert shown.returncode == 0, shown.stderr
    document: dict[str, object] = shown.json()
    return document


def image_of_service(sim: SimServer) -> str:
    described = task_definition(sim, service(sim)["taskDefinition"])
    image: str = described["taskDefinition"]["containerDefinitions"][0]["image"]
    return image


def paused_before_update_service(store: Path, sim: SimServer) -> Any:
    """A deploy frozen (SIGSTOP) right after committing its UpdateService intent, left until its lease ran out
    on the simulator's clock."""
    paused = start_deploy(
        store, "--container-image", "app=nginx:1.27", "--run-id", "paused",
        ECSOPS_STOP_AT="intent:update_service", ECSOPS_LOCK_LEASE_SECONDS=SHORT_LEASE,
    )
    wait_until(lambda: is_stopped(paused), "the first deploy stops before UpdateService")
    left = lease_left(store, "paused", sim.now())
    assert left is not None and 0 < left <= float(SHORT_LEASE)  # held, its lease kept in virtual time
    sim.advance(left + 1)  # nothing renews it: the heartbeat is frozen with the process
    left = lease_left(store, "paused", sim.now())
    assert left is not None and left < 0
    assert sim.counts().get("ecs:UpdateService", 0) == 0
    return paused


def test_a_stalled_run_continued_after_another_run_finished_sends_nothing_and_exits_5(
    tmp_path: Path, aws_env: SimServer
) -> None:
    """Case 2a: it used to send its UpdateService anyway and silently revert the other deploy."""
    store = tmp_path / "s.db"
    aws_env.reset(frozen_demo())
    paused = paused_before_update_service(store, aws_env)
    try:
        other = start_deploy(store, "--container-image", "app=nginx:1.28", "--run-id", "other", "--output", "json")
        read_until(other, " left")
        aws_env.advance(600)
        other_out, other_err = other.communicate(timeout=60)
        assert other.returncode == 0, other_err
        assert json.loads(other_out)["status"] == "succeeded"
        before = aws_env.mutating_calls()
    finally:
        paused.send_signal(signal.SIGCONT)
    _, stderr = paused.communicate(timeout=60)

    assert paused.returncode == 5, stderr
    assert "Traceback" not in stderr
    assert "lost the lock" in stderr and "other" in stderr and "sent nothing more" in stderr
    assert aws_env.mutating_calls() == before  # not one mutating call after SIGCONT
    assert aws_env.counts()["ecs:UpdateService"] == 1  # the other run's only
    assert image_of_service(aws_env) == "nginx:1.28"
    paused_run = status_of(store, "paused")
    assert paused_run["status"] == "interrupted"
    assert "lost the lock" in str(paused_run["reason"]) and "other" in str(paused_run["reason"])
    assert paused_run["in_flight"] == ["update_service"]
    assert status_of(store, "other")["status"] == "succeeded"


def test_a_stalled_run_continued_while_the_other_run_waits_names_it_and_leaves_it_alone(
    tmp_path: Path, aws_env: SimServer
) -> None:
    """Case 2b: it used to send UpdateService, fail to renew, exit 5, and leave its record `running`."""
    store = tmp_path / "s.db"
    aws_env.reset(frozen_demo())
    paused = paused_before_update_service(store, aws_env)
    other = start_deploy(store, "--container-image", "app=nginx:1.28", "--run-id", "other", "--output", "json")
    try:
        read_until(other, " left")
        before = aws_env.mutating_calls()
        paused.send_signal(signal.SIGCONT)
        _, stderr = paused.communicate(timeout=60)
        assert paused.returncode == 5, stderr
        assert "lost the lock to run other" in stderr
        assert aws_env.mutating_calls() == before
        paused_run = status_of(store, "paused")
        assert (paused_run["status"], paused_run["reason"]) == ("interrupted", "lost the lock to run other")
        aws_env.advance(600)  # the other run still owns the service and finishes its deploy
        other_out, other_err = other.communicate(timeout=60)
    finally:
        paused.kill() if paused.poll() is None else None
        other.kill() if other.poll() is None else None
    assert other.returncode == 0, other_err
    assert json.loads(other_out)["status"] == "succeeded"
    assert aws_env.counts()["ecs:UpdateService"] == 1
    assert image_of_service(aws_env) == "nginx:1.28"


@pytest.mark.process
def test_a_live_run_polling_three_times_slower_than_its_lease_keeps_its_lock(
    tmp_path: Path, aws_env: SimServer
) -> None:
    """Case 3: with --poll-interval 8 and a 3 s lease a second deploy used to go ahead."""
    store = tmp_path / "s.db"
    aws_env.reset(frozen_demo())
    env = cli_env(store, ECSOPS_LOCK_LEASE_SECONDS=SHORT_LEASE)
    env.pop("ECSOPS_CLOCK")  # a real sleep between polls: that is what the lease must outlive
    # A fresh interpreter, as in test_deploy_signals: it is stopped with SIGTERM and must exit 130.
    live = subprocess.Popen(
        [sys.executable, "-m", "ecsops", "deploy", "--cluster", "demo", "--service", "web",
         "--container-image", "app=nginx:1.27", "--run-id", "live", "--poll-interval", str(3 * int(SHORT_LEASE))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        read_until(live, " left")  # polled once; now sleeping three leases long
        time.sleep(float(SHORT_LEASE) + 0.5)  # past the lease the last checkpoint gave
        # On the real clock too: the lease is judged in the time its holder keeps it in.
        second = deploy(store, "--container-image", "app=nginx:1.28", "--run-id", "second", ECSOPS_CLOCK="real")
        assert second.returncode == 5, second.stderr
        assert "locked by run live" in second.stderr
        left = lease_left(store, "live", time.time())
        assert left is not None and left > 0
        assert live.poll() is None  # still waiting, still holding
    finally:
        live.send_signal(signal.SIGTERM)
        live.communicate(timeout=60)
    assert live.returncode == 130
    assert aws_env.counts()["ecs:UpdateService"] == 1


def _hold_store_write_lock(store: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


@pytest.mark.parametrize("store_write_locked", [False, True], ids=["free-store", "store-briefly-write-locked"])
def test_two_concurrent_resumes_of_a_crashed_run_one_proceeds_the_other_exits_5(
    tmp_path: Path, store_write_locked: bool
) -> None:
    """Case 4: both used to fail with a version conflict, leaving the run `interrupted` to a dead pid."""
    store, ledger = tmp_path / "s.db", tmp_path / "ledger.json"
    killed = run_example(store, ledger, "fake:widgets", "run-a", "ready_after_polls=3", "poll_interval=1",
                         ECSOPS_CRASH_AT="enter:waiting")
    assert killed.returncode == -signal.SIGKILL
    holder = _hold_store_write_lock(store) if store_write_locked else None
    resumes = [start_ecsops(store, "resume", "run-a", "--output", "json") for _ in range(2)]
    if holder is not None:
        time.sleep(1.0)  # both are queued on the store's write lock
        holder.execute("ROLLBACK")
        holder.close()
    outcomes = [(p.wait(timeout=120), p.stdout.read() if p.stdout else "", p.stderr.read() if p.stderr else "")
                for p in resumes]

    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 5], outcomes
    loser = next(err for code, _, err in outcomes if code == 5)
    assert "driven by another process" in loser and "ecsops resume" not in loser and "Traceback" not in loser
    winner = next(out for code, out, _ in outcomes if code == 0)
    assert json.loads(winner)["status"] == "succeeded"
    assert json.loads(ledger.read_text())["widgets"] == [{"id": "w-1", "owner": "run-a"}]
    final = status_of(store, "run-a")
    assert final["status"] == "succeeded" and final["reason"] is None
    assert [t["dest"] for t in final["transitions"]] == ["creating", "waiting", "done"]  # type: ignore[union-attr]


def test_abandon_breaks_the_lock_so_the_abandoned_process_can_write_nothing_more(tmp_path: Path) -> None:
    """Abandon raises the token: a process still driving the run (stalled, say) is fenced out."""
    store, ledger = tmp_path / "s.db", tmp_path / "ledger.json"
    killed = run_example(store, ledger, "fake:widgets", "run-a", ECSOPS_CRASH_AT="enter:waiting")
    assert killed.returncode == -signal.SIGKILL
    with sqlite3.connect(store) as conn:
        (token_before,) = conn.execute("SELECT token FROM locks WHERE target = 'fake:widgets'").fetchone()
    assert run_ecsops(store, "abandon", "run-a").returncode == 0
    with sqlite3.connect(store) as conn:
        run_id, token_after = conn.execute("SELECT run_id, token FROM locks WHERE target = 'fake:widgets'").fetchone()
    assert (run_id, token_after) == (None, token_before + 1)
    assert run_example(store, ledger, "fake:widgets", "run-b").returncode == 0
