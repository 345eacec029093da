"""SIGKILL a deploy-fleet run (12 services on two clusters, demo/svc05's image failing) at points of its run and of
its services, then `ecsops resume`: every service gets exactly one new revision and one UpdateService (the failing
one a rollback UpdateService too), and the run ends as it would have without the kill."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_ecsops
from fleet_helpers import (
    NO_PAUSE,
    deploy_fleet,
    deployment_ids,
    deployments_by_service,
    fleet_file,
    fleet_scenario,
    item_paths,
    most_rolling_at_once,
    revisions_of,
    service_names,
    services_by_name,
    task_definition_of,
)

from ecsops.sim.server import SimServer

FAILING = "demo/svc05"
RUN_ID = "fleet-r1"

CRASH_POINTS = [
    "enter:planned",  # recorded, no service added yet
    "checkpoint:rolling",  # the run started, no service yet
    "enter:rolling",
    "item-checkpoint:planned",  # the first service started, nothing read yet
    "item-checkpoint:snapshotted",  # its rollback target recorded
    "item-checkpoint:registering",
    "intent:register_task_definition:batch/svc02",  # about to register, not sent
    "item-checkpoint:updating",  # registered, about to update
    "item-checkpoint:waiting",  # the first service's deployment started
    "call:register_task_definition:demo/svc03",  # registered, not recorded
    "intent:update_service:batch/svc08",  # about to update, not sent
    "call:update_service:demo/svc05",  # the failing service updated, not recorded
    "item-checkpoint:succeeded",  # the first service to finish
    "item-checkpoint:rolling_back",  # the failing service's rollback begins
    f"intent:rollback_update_service:{FAILING}",
    f"call:rollback_update_service:{FAILING}",  # rollback sent, not recorded
]


def _kill_then_resume(tmp_path: Path, sim: SimServer, crash_at: str, *args: str) -> tuple[Any, dict[str, Any],
                                                                                        set[str]]:
    scenario = fleet_scenario(12)
    sim.reset(scenario)
    seeded = deployment_ids(sim)
    file = fleet_file(tmp_path / "fleet.toml", scenario, broken=["svc05"], top=NO_PAUSE)
    store = tmp_path / "s.db"
    sim.reset_counts()
    killed = deploy_fleet(store, file, "--run-id", RUN_ID, *args, ECSOPS_CRASH_AT=crash_at)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    resumed = run_ecsops(store, "resume", RUN_ID, "--output", "json")
    assert resumed.stdout, resumed.stderr
    document: dict[str, Any] = resumed.json()
    document["exit_code"] = resumed.returncode
    return scenario, document, seeded


def _assert_once_per_service(sim: SimServer, scenario: Any, seeded: set[str], rolled_back: set[str]) -> None:
    deployments = deployments_by_service(sim, seeded)
    for spec in scenario.services:
        name, family = f"{spec.cluster}/{spec.name}", spec.name
        assert revisions_of(sim, family) == [f"{family}:1", f"{family}:2"], name
        if name in rolled_back:
            assert deployments.get(name) == [f"{family}:2", f"{family}:1"], name
            assert task_definition_of(sim, spec.cluster, spec.name) == f"{family}:1", name
        else:
            assert deployments.get(name) == [f"{family}:2"], name
            assert task_definition_of(sim, spec.cluster, spec.name) == f"{family}:2", name
    counts = sim.counts()  # both processes' calls
    assert counts["ecs:RegisterTaskDefinition"] == 12
    assert counts["ecs:UpdateService"] == 12 + len(rolled_back)


def _assert_steps(document: dict[str, Any], crash_at: str) -> None:
    assert document["in_flight"] == []
    steps = {step["name"]: step["status"] for step in document["steps"]}
    assert set(steps.values()) <= {"succeeded", "reconciled"}, steps
    assert len(steps) == 12 * 2 + 1
    if crash_at.startswith("call:"):
        assert steps[crash_at.split(":", 1)[1]] == "reconciled"


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_a_killed_fleet_resumes_to_the_same_verdict_with_one_revision_and_one_update_per_service(
    tmp_path: Path, aws_env: SimServer, crash_at: str
) -> None:
    scenario, document, seeded = _kill_then_resume(tmp_path, aws_env, crash_at)

    assert (document["exit_code"], document["status"]) == (3, "rolled_back"), document["reason"]
    outcomes = {name: entry["outcome"] for name, entry in services_by_name(document).items()}
    assert outcomes == {name: "rolled_back" if name == FAILING else "succeeded" for name in service_names(scenario)}
    _assert_once_per_service(aws_env, scenario, seeded, {FAILING})
    _assert_steps(document, crash_at)
    # Each service walked its path once: no state repeated across the kill.
    for name, path in item_paths(document).items():
        expected = (["pending", "planned", "snapshotted", "registering", "updating", "waiting"]
                    + (["rolling_back", "rolled_back"] if name == FAILING else ["succeeded"]))
        assert path == expected, (name, path)


@pytest.mark.parametrize("crash_at", [
    "item-checkpoint:rolled_out",  # the first service held for the fleet's verdict
    "call:rollback_update_service:demo/svc01",
    "intent:rollback_update_service:batch/svc12",
])
def test_a_killed_rollback_all_fleet_resumes_with_every_service_back_once(
    tmp_path: Path, aws_env: SimServer, crash_at: str
) -> None:
    scenario, document, seeded = _kill_then_resume(tmp_path, aws_env, crash_at, "--on-failure", "rollback-all")

    assert (document["exit_code"], document["status"]) == (3, "rolled_back"), document["reason"]
    assert {entry["outcome"] for entry in document["services"]} == {"rolled_back"}
    _assert_once_per_service(aws_env, scenario, seeded, set(service_names(scenario)))
    assert document["in_flight"] == []
    steps = {step["name"]: step["status"] for step in document["steps"]}
    assert len(steps) == 12 * 3
    assert set(steps.values()) <= {"succeeded", "reconciled"}, steps


def test_a_killed_stop_fleet_resumes_without_starting_the_services_it_had_not_started(
    tmp_path: Path, aws_env: SimServer
) -> None:
    scenario, document, seeded = _kill_then_resume(tmp_path, aws_env, f"call:rollback_update_service:{FAILING}",
                                                   "--on-failure", "stop", "--max-parallel", "3")

    assert (document["exit_code"], document["status"]) == (3, "rolled_back"), document["reason"]
    names = service_names(scenario)
    outcomes = services_by_name(document)
    assert [outcomes[name]["outcome"] for name in names] == (
        ["succeeded"] * 4 + ["rolled_back"] + ["succeeded"] + ["skipped"] * 6)
    deployments = deployments_by_service(aws_env, seeded)
    for spec in scenario.services[6:]:
        name = f"{spec.cluster}/{spec.name}"
        assert revisions_of(aws_env, spec.name) == [f"{spec.name}:1"], name
        assert name not in deployments
        assert task_definition_of(aws_env, spec.cluster, spec.name) == f"{spec.name}:1"
    assert most_rolling_at_once(document) <= 3  # --max-parallel kept across the kill
    counts = aws_env.counts()
    assert (counts["ecs:RegisterTaskDefinition"], counts["ecs:UpdateService"]) == (6, 7)
