"""`ecsops status RUN_ID --follow` (issue 20): a run driven by one process, followed from the store by another.

The driver and the follower are real processes sharing one store (and the simulator's virtual clock): the
follower's output holds every transition and message of the run; it exits with the run's own code; a driver that
is gone is said once its lease ran out (at once when its process is gone on this host), with the command that
resumes it, and 130."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_ecsops, start_ecsops
from deploy_helpers import TARGET, demo_with, frozen_demo, read_until, wait_until

from ecsops.sim.scenario import demo_scenario
from ecsops.sim.server import SimServer

GOOD = ("--container-image", "app=nginx:1.27")
BROKEN = ("--container-image", "app=nginx:broken")
STAMP = re.compile(r"^\[ *\d+\.\ds\] ")


def _lines(stderr: str) -> list[str]:
    """The follower's progress lines without their stamps (continuation lines of a wrapped one joined to it)."""
    lines: list[str] = []
    for line in stderr.splitlines():
        if STAMP.match(line):
            lines.append(STAMP.sub("", line))
        elif lines and line.startswith(" "):
            lines[-1] += " " + line.strip()
    return lines


def _document(store: Path, run_id: str) -> dict[str, Any]:
    result = run_ecsops(store, "status", run_id, "--output", "json")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = result.json()
    return document


def _follow_sees_everything(stderr: str, document: dict[str, Any]) -> None:
    lines = _lines(stderr)
    shown = [line for line in lines if " -> " in line]
    expected = [f"{t['item'] + ': ' if t['item'] else ''}{t['source']} -> {t['dest']} ({t['trigger']})"
                for t in document["transitions"]]
    assert [line for line in shown if line in expected] == expected
    said = [m["text"] for m in document["messages"] if m["kind"] != "stage"]
    assert said, document["messages"]
    printed = [line for line in lines if line not in expected]
    it = iter(printed)
    assert all(any(" ".join(text.split()) == " ".join(line.split()) for line in it) for text in said), (said, printed)


def _started(store: Path, run_id: str) -> None:
    wait_until(lambda: store.exists() and run_ecsops(store, "status", run_id).returncode == 0,
               f"run {run_id} is recorded")


# ---- a run followed to its end ------------------------------------------------------------------------------
@pytest.mark.parametrize(("image", "code", "status"), [(GOOD, 0, "succeeded"), (BROKEN, 3, "rolled_back")])
def test_a_followed_deploy_prints_every_transition_and_message_and_exits_with_the_run_s_code(
    tmp_path: Path, aws_env: SimServer, image: tuple[str, str], code: int, status: str
) -> None:
    store = tmp_path / "s.db"
    aws_env.reset(demo_with(circuit_breaker=True, rollback=False) if image == BROKEN else demo_scenario())
    # The driver stops itself once it starts waiting, until the follower is there: it is followed live.
    driver = start_ecsops(store, "deploy", *TARGET, *image, "--run-id", "d-1", "--output", "json",
                          ECSOPS_STOP_AT="enter:waiting")
    _started(store, "d-1")
    follower = start_ecsops(store, "status", "d-1", "--follow", "--interval", "0.05", "--output", "json")
    head = read_until(follower, "updating -> waiting")
    driver.send_signal(signal.SIGCONT)
    driven_out, driven_err = driver.communicate(timeout=60)
    assert driver.returncode == code, driven_err
    stdout, rest = follower.communicate(timeout=60)
    stderr = head + rest
    assert follower.returncode == code, stderr
    final = json.loads(stdout)
    assert final["status"] == status and final == json.loads(driven_out)
    document = _document(store, "d-1")
    _follow_sees_everything(stderr, document)
    assert _lines(stderr)[0] == f"run d-1: deploy {document['target']}"  # the driver's own first line
    assert _lines(stderr)[-1].startswith(f"run d-1 ended {status}")
    if document["reason"]:
        assert document["reason"] in " ".join(_lines(stderr)[-1:])
    # What the driver printed while waiting, the follower printed too.
    waited = [line for line in _lines(driven_err) if line.startswith("deploy: ")]
    assert waited and all(line in _lines(stderr) for line in waited)


def test_a_finished_run_is_printed_whole_and_its_code_returned_at_once(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    done = run_ecsops(store, "deploy", *TARGET, *GOOD, "--run-id", "d-2", "--poll-interval", "0")
    assert done.returncode == 0, done.stderr
    followed = run_ecsops(store, "status", "d-2", "--follow")
    assert followed.returncode == 0, followed.stderr
    _follow_sees_everything(followed.stderr, _document(store, "d-2"))
    assert followed.stdout == run_ecsops(store, "status", "d-2").stdout  # then the run, as status shows it


# ---- a driver that is gone ------------------------------------------------------------------------------------
def test_a_sigkilled_driver_on_this_host_is_reported_at_once_with_the_resume_command(
    tmp_path: Path, aws_env: SimServer
) -> None:
    store = tmp_path / "s.db"
    aws_env.reset(frozen_demo())
    driver = start_ecsops(store, "deploy", *TARGET, *GOOD, "--run-id", "d-3", "--timeout", "10h",
                          ECSOPS_STOP_AT="enter:waiting")
    _started(store, "d-3")
    follower = start_ecsops(store, "status", "d-3", "--follow", "--interval", "0.05")
    read_until(follower, "updating -> waiting")  # the driver is stopped, alive: followed, not reported
    driver.kill()
    driver.wait(timeout=30)
    stdout, stderr = follower.communicate(timeout=60)
    assert follower.returncode == 130, stderr
    gone = [line for line in _lines(stderr) if "gone" in line]
    assert gone == [f"run d-3: the process that drove it is gone (process {_owner(stderr, gone)}, which drove it, "
                    "is gone); resume it with: ecsops resume d-3"]
    assert "status    running" in stdout


def _owner(stderr: str, gone: list[str]) -> str:
    found = re.search(r"\(process (\S+), which drove it", gone[0]) if gone else None
    assert found, stderr
    return found.group(1)


def test_a_driver_on_another_host_is_reported_only_once_its_lease_ran_out(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    aws_env.reset(frozen_demo())
    killed = run_ecsops(store, "deploy", *TARGET, *GOOD, "--run-id", "d-4", "--poll-interval", "0",
                        ECSOPS_CRASH_AT="enter:waiting", ECSOPS_LOCK_LEASE_SECONDS="30")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with sqlite3.connect(store) as conn:  # as if it had run on another host: this one cannot tell it is gone
        conn.execute("UPDATE locks SET owner = 'ci-runner-7.example:4242' WHERE run_id = 'd-4'")
    expires = _document(store, "d-4")["lock"]["lease_expires_at"]

    follower = start_ecsops(store, "status", "d-4", "--follow", "--interval", "0.05")
    read_until(follower, "updating -> waiting")
    time.sleep(0.5)  # ten reads of the store by the follower: the lease has not run out, it waits
    assert follower.poll() is None
    aws_env.advance(31)  # the lease's 30 s pass on the runs' (virtual) clock
    _, stderr = follower.communicate(timeout=60)
    assert follower.returncode == 130, stderr
    gone = [line for line in _lines(stderr) if "gone" in line]
    assert gone == ["run d-4: the process that drove it is gone (its lease expired: the process that drove it "
                    "stopped renewing it); resume it with: ecsops resume d-4"], (stderr, expires)


# ---- a run its driver stopped ---------------------------------------------------------------------------------
def test_an_interrupted_run_is_followed_to_its_stop_and_its_code(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    aws_env.reset(frozen_demo())
    driver = start_ecsops(store, "deploy", *TARGET, *GOOD, "--run-id", "d-5", "--timeout", "10h")
    _started(store, "d-5")
    follower = start_ecsops(store, "status", "d-5", "--follow", "--interval", "0.05")
    read_until(follower, "updating -> waiting")
    driver.send_signal(signal.SIGTERM)
    driver.communicate(timeout=60)
    assert driver.returncode == 130
    _, stderr = follower.communicate(timeout=60)
    assert follower.returncode == 130, stderr
    assert _lines(stderr)[-1] == "run d-5 stopped in state waiting; continue it with: ecsops resume d-5"


def test_a_run_paused_at_a_hook_ends_the_follow_with_its_code_7_and_what_to_do(
    tmp_path: Path, aws_env: SimServer
) -> None:
    from strategy_helpers import native_demo, native_deploy, pause_hook

    store = tmp_path / "s.db"
    aws_env.reset(native_demo("BLUE_GREEN", bake=5, lifecycle_hooks=[pause_hook()]))
    assert native_deploy(store, *GOOD, "--on-pause", "exit", "--run-id", "bg-1").returncode == 7
    followed = run_ecsops(store, "status", "bg-1", "--follow", "--interval", "0.05")
    assert followed.returncode == 7, followed.stderr
    assert _lines(followed.stderr)[-1].startswith("run bg-1 is paused at a deployment lifecycle hook")
    assert "ecsops approve bg-1" in _lines(followed.stderr)[-1]


# ---- the follower itself -------------------------------------------------------------------------------------
@pytest.mark.parametrize("interval", ["0", "-1", "soon", "nan", "7200"])
def test_a_bad_interval_exits_2_saying_what_it_takes(tmp_path: Path, interval: str) -> None:
    result = run_ecsops(tmp_path / "s.db", "status", "any", "--follow", "--interval", interval)
    assert result.returncode == 2
    assert f"--interval takes seconds from 0.05 to 3600, not {interval!r}" in result.stderr


def test_interval_without_follow_and_an_unknown_run_exit_2(tmp_path: Path) -> None:
    alone = run_ecsops(tmp_path / "s.db", "status", "any", "--interval", "1")
    assert alone.returncode == 2 and "--interval goes with --follow" in alone.stderr
    unknown = run_ecsops(tmp_path / "s.db", "status", "nope", "--follow")
    assert unknown.returncode == 2 and "no run with id 'nope'" in unknown.stderr


def test_ctrl_c_stops_the_follower_quietly_and_leaves_the_run_alone(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    aws_env.reset(frozen_demo())
    driver = start_ecsops(store, "deploy", *TARGET, *GOOD, "--run-id", "d-6", "--timeout", "10h",
                          ECSOPS_STOP_AT="enter:waiting")
    _started(store, "d-6")
    follower = start_ecsops(store, "status", "d-6", "--follow", "--interval", "0.05")
    read_until(follower, "updating -> waiting")
    before = _document(store, "d-6")
    follower.send_signal(signal.SIGINT)
    stdout, stderr = follower.communicate(timeout=30)
    assert follower.returncode == 130
    assert "Traceback" not in stderr and stdout == ""
    after = _document(store, "d-6")
    assert (after["status"], after["updated_at"], after["lock"]["owner"]) == (
        before["status"], before["updated_at"], before["lock"]["owner"])
    driver.kill()
    driver.wait(timeout=30)


# ---- the team's DynamoDB store ----------------------------------------------------------------------------------
def test_a_run_in_the_team_s_dynamodb_table_is_followed_the_same_way(tmp_path: Path, aws_env: SimServer) -> None:
    from dynamodb_helpers import STORE_URL, make_table

    make_table()
    unused = tmp_path / "unused.db"
    driver = start_ecsops(unused, "deploy", *TARGET, *GOOD, "--run-id", "t-1", "--output", "json",
                          ECSOPS_STORE=STORE_URL, ECSOPS_STOP_AT="enter:waiting")
    wait_until(lambda: run_ecsops(unused, "status", "t-1", ECSOPS_STORE=STORE_URL).returncode == 0, "t-1 recorded")
    follower = start_ecsops(unused, "status", "t-1", "--follow", "--interval", "0.05", ECSOPS_STORE=STORE_URL)
    head = read_until(follower, "updating -> waiting")
    driver.send_signal(signal.SIGCONT)
    driver.communicate(timeout=60)
    assert driver.returncode == 0
    _, rest = follower.communicate(timeout=60)
    assert follower.returncode == 0, rest
    document = run_ecsops(unused, "status", "t-1", "--output", "json", ECSOPS_STORE=STORE_URL).json()
    _follow_sees_everything(head + rest, document)
    assert not unused.exists()
