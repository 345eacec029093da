"""What a person sees about a run's lock, deadlines and next step: status, abandon, resume, refusals (issue 12)."""

from __future__ import annotations

import re
import signal
import socket
import sqlite3
import time
from pathlib import Path

from cli_helpers import run_ecsops
from deploy_helpers import frozen_demo, read_until, start_deploy
from replace_helpers import fleet_scenario, replace

from ecsops.sim.server import SimServer


def test_replace_waits_show_elapsed_and_time_left(aws_env: SimServer, tmp_path: Path) -> None:
    seeded = aws_env.reset(fleet_scenario(instances=3, out_of_date=2, stuck=True)).asgs["prod-asg"]
    first = seeded.out_of_date_instances[0]

    result = replace(tmp_path / "ecsops.db", "--timeout", "10m")

    assert result.returncode == 1, result.stderr
    lines = _unwrapped(result.stderr)
    waits = [line for line in lines if line.startswith(f"{first}: draining: ") and " elapsed, " in line]
    assert waits, result.stderr
    elapsed, left = re.search(r"\| (\S+) elapsed, (\S+) left$", waits[-1]).groups()  # type: ignore[union-attr]
    assert left != "10m00s" and elapsed != "0s"
    # The wait repeats its line while nothing changes, so a long drain is never silent.
    assert len(waits) >= 3


def _unwrapped(stderr: str) -> list[str]:
    """Progress lines without their stamps, a wrapped line joined back to one."""
    lines: list[str] = []
    for line in stderr.splitlines():
        if line.startswith(" ") and lines:
            lines[-1] += " " + line.strip()
        else:
            lines.append(re.sub(r"^\[\s*[\d.]+s\] ", "", line))
    return lines


def _killed_in_wait(aws_env: SimServer, store: Path) -> None:
    """SIGKILL a deploy of run id r1 while it waits (its deadline set), leaving its lock behind."""
    aws_env.reset(frozen_demo())
    process = start_deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "r1")
    try:
        read_until(process, " left")
    finally:
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL


def test_status_of_a_killed_run_says_its_process_is_gone_and_to_resume(aws_env: SimServer, tmp_path: Path) -> None:
    store = tmp_path / "ecsops.db"
    _killed_in_wait(aws_env, store)

    text = run_ecsops(store, "status", "r1")
    assert text.returncode == 0, text.stderr
    lines = {line.split()[0]: line for line in text.stdout.splitlines() if line and not line.startswith(" ")}
    assert f"{socket.gethostname()}:" in lines["lock"] and "(gone)" in lines["lock"]
    assert lines["deadline"].startswith("deadline  deploy at ")
    assert "ecsops resume r1" in lines["next"] and "gone" in lines["next"]

    document = run_ecsops(store, "status", "r1", "--output", "json").json()
    lock = document["lock"]
    assert lock["alive"] is False and lock["owner"].startswith(socket.gethostname() + ":")
    assert lock["token"] >= 1 and lock["lease_expires_at"] and lock["next"] == "ecsops resume r1"
    assert set(document["deadlines"]) == {"deploy"}
    assert run_ecsops(store, "abandon", "r1").returncode == 0
    finished = run_ecsops(store, "status", "r1", "--output", "json").json()
    assert "lock" not in finished and "deadlines" not in finished


def test_status_of_a_live_run_says_wait(aws_env: SimServer, tmp_path: Path) -> None:
    store = tmp_path / "ecsops.db"
    aws_env.reset(frozen_demo())
    process = start_deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "r1")
    try:
        read_until(process, "waiting")
        document = run_ecsops(store, "status", "r1", "--output", "json").json()
        assert document["lock"]["alive"] is True and document["lock"]["owner"].endswith(f":{process.pid}")
        assert document["lock"]["next"] == "wait"
        text = run_ecsops(store, "status", "r1").stdout
        assert "(alive)" in text and "next      wait: " in text and "ecsops resume" not in text
    finally:
        process.kill()
        process.wait()


def test_status_of_a_run_held_from_another_host(aws_env: SimServer, tmp_path: Path) -> None:
    store = tmp_path / "ecsops.db"
    _killed_in_wait(aws_env, store)
    _move_owner(store, "build-7.example:4242", expires_in=600)

    document = run_ecsops(store, "status", "r1", "--output", "json").json()
    assert document["lock"]["alive"] is None and document["lock"]["next"] == "wait"
    text = run_ecsops(store, "status", "r1").stdout
    assert "build-7.example:4242 (another host: cannot tell)" in text
    assert "ecsops abandon r1 --force" in text

    _move_owner(store, "build-7.example:4242", expires_in=-1)
    assert run_ecsops(store, "status", "r1", "--output", "json").json()["lock"]["next"] == "ecsops resume r1"


def _move_owner(store: Path, owner: str, *, expires_in: float) -> None:
    """Make the lock look held by a process elsewhere, its lease running for expires_in more seconds."""
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE locks SET owner = ?, expires_at = ?", [owner, time.time() + expires_in])
