"""What a person sees about a run's lock, deadlines and next step: status, abandon, resume, refusals (issue 12)."""

from __future__ import annotations

import re
import signal
import socket
import sqlite3
from pathlib import Path

from cli_helpers import run_ecsops
from deploy_helpers import deploy, frozen_demo, read_until, start_deploy
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
    _move_owner(aws_env, store, "build-7.example:4242", expires_in=600)

    document = run_ecsops(store, "status", "r1", "--output", "json").json()
    assert document["lock"]["alive"] is None and document["lock"]["next"] == "wait"
    text = run_ecsops(store, "status", "r1").stdout
    assert "build-7.example:4242 (another host: cannot tell)" in text
    assert "ecsops abandon r1 --force" in text

    _move_owner(aws_env, store, "build-7.example:4242", expires_in=-1)
    assert run_ecsops(store, "status", "r1", "--output", "json").json()["lock"]["next"] == "ecsops resume r1"


def _move_owner(sim: SimServer, store: Path, owner: str, *, expires_in: float) -> None:
    """Make the lock look held by a process elsewhere, its lease running for expires_in more seconds of the
    time runs keep leases in (the simulator's, as the CLI's ECSOPS_CLOCK=sim says)."""
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE locks SET owner = ?, expires_at = ?", [owner, sim.now() + expires_in])


def test_abandon_of_a_run_held_from_another_host_is_refused_until_forced(aws_env: SimServer, tmp_path: Path) -> None:
    store = tmp_path / "ecsops.db"
    _killed_in_wait(aws_env, store)
    _move_owner(aws_env, store, "build-7.example:4242", expires_in=600)
    token = _token(store)

    refused = run_ecsops(store, "abandon", "r1")
    assert refused.returncode == 5
    assert "build-7.example:4242" in refused.stderr and "its lease runs to " in refused.stderr
    assert "ecsops abandon r1 --force" in refused.stderr

    # A deploy refused meanwhile is told to wait or force, never to resume or abandon without --force now.
    blocked = deploy(store, "--container-image", "app=nginx:1.28")
    assert blocked.returncode == 5
    assert "ecsops abandon r1 --force" in blocked.stderr
    assert "`ecsops abandon r1`" not in blocked.stderr and "then `ecsops resume r1`" in blocked.stderr

    forced = run_ecsops(store, "abandon", "r1", "--force", "--reason", "build-7 was terminated", "--output", "json")
    assert forced.returncode == 0, forced.stderr
    assert forced.json()["status"] == "abandoned" and forced.json()["reason"] == "build-7 was terminated"
    assert _token(store) == token + 1  # the old holder's fence fails from now on
    assert "reason    build-7 was terminated" in run_ecsops(store, "status", "r1").stdout


def test_a_deploy_refused_by_a_live_run_is_told_to_wait_only(aws_env: SimServer, tmp_path: Path) -> None:
    store = tmp_path / "ecsops.db"
    aws_env.reset(frozen_demo())
    process = start_deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "r1")
    try:
        read_until(process, " left")
        refused = deploy(store, "--container-image", "app=nginx:1.28", "--run-id", "r2")
        assert refused.returncode == 5
        assert f":{process.pid}) on this host; wait for it to end" in refused.stderr
        assert "ecsops resume" not in refused.stderr and "ecsops abandon" not in refused.stderr
        # Item 15: the refused run was never recorded, so no run id of its own is printed.
        assert "r2" not in refused.stderr
        assert run_ecsops(store, "status", "r2").returncode == 2
        abandon = run_ecsops(store, "abandon", "r1")
        assert abandon.returncode == 5 and "ecsops abandon r1 --force" in abandon.stderr
    finally:
        process.kill()
        process.wait()


def test_a_deploy_refused_by_a_killed_run_is_told_to_resume_or_abandon_it(aws_env: SimServer, tmp_path: Path) -> None:
    store = tmp_path / "ecsops.db"
    _killed_in_wait(aws_env, store)
    refused = deploy(store, "--container-image", "app=nginx:1.28")
    assert refused.returncode == 5
    assert "is gone: `ecsops resume r1` continues it, `ecsops abandon r1` gives it up" in refused.stderr
    assert "run deploy-" not in refused.stderr  # no id of a run that was never recorded


def test_resuming_an_abandoned_run_says_why_nothing_was_done(aws_env: SimServer, tmp_path: Path) -> None:
    store = tmp_path / "ecsops.db"
    _killed_in_wait(aws_env, store)
    assert run_ecsops(store, "abandon", "r1", "--reason", "rolled forward by hand").returncode == 0

    resumed = run_ecsops(store, "resume", "r1")
    assert resumed.returncode == 1
    assert "run r1 was abandoned (reason: rolled forward by hand); nothing was done" in resumed.stderr
    replayed = deploy(store, "--container-image", "app=nginx:1.27", "--run-id", "r1")
    assert replayed.returncode == 1
    assert "run r1 was abandoned (reason: rolled forward by hand); nothing was done" in replayed.stderr


def _token(store: Path) -> int:
    with sqlite3.connect(store) as conn:
        return int(conn.execute("SELECT token FROM locks").fetchone()[0])
