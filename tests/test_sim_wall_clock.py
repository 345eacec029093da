"""The simulator's wall-clock mode: simulated time is real time, the model runs on it between requests, and a
deploy at default polling exits within the longest default poll interval of ECS completing its rollout.

These tests take real seconds by nature (that is the mode); the rollout is made a few seconds long."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import run_ecsops
from deploy_helpers import TARGET

from ecsops.deploy.wait import ADAPTIVE_MAX_INTERVAL
from ecsops.sim.scenario import Scenario, demo_scenario
from ecsops.sim.server import SimServer

# Interpreter shutdown and a loaded 2-core machine, on top of what the polling itself guarantees.
EXIT_MARGIN_SECONDS = 3.0


def short_rollout() -> Scenario:
    """The demo with a rollout of about two seconds: tasks start in 1 s, targets drain in 1 s."""
    scenario = demo_scenario()
    web = scenario.services[0]
    assert web.load_balancer is not None
    load_balancer = web.load_balancer.model_copy(update={"deregistration_delay": 1})
    return scenario.model_copy(update={
        "services": [web.model_copy(update={"load_balancer": load_balancer})],
        "task_start_seconds": 1.0, "task_stop_seconds": 0.2, "target_healthy_seconds": 0.2,
    })


@pytest.fixture
def wall_sim(sim_server: SimServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    """The worker's simulator on the wall clock with the short rollout; clients on the real clock too."""
    sim_server.use_clock("wall")
    sim_server.reset(short_rollout())
    monkeypatch.setenv("AWS_ENDPOINT_URL", sim_server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", sim_server.scenario.region)
    monkeypatch.delenv("ECSOPS_CLOCK", raising=False)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield sim_server
    finally:
        sim_server.use_clock("virtual")
        sim_server.reset("demo")


def _completed_at(sim: SimServer, task_definition_suffix: str) -> float:
    completed = [c["at"] for c in sim.rollouts()
                 if c["rollout_state"] == "COMPLETED" and c["task_definition"].endswith(task_definition_suffix)]
    assert len(completed) == 1, sim.rollouts()
    return float(completed[0])


def test_time_follows_the_real_clock_not_the_requests(wall_sim: SimServer) -> None:
    ecs = wall_sim.client("ecs")
    started_real, started_sim = time.time(), wall_sim.now()
    for _ in range(10):
        ecs.describe_services(cluster="demo", services=["web"])
    elapsed_real, elapsed_sim = time.time() - started_real, wall_sim.now() - started_sim
    # Virtual mode would have added 10 ticks of 5 s; here the simulator kept to the real clock.
    assert abs(elapsed_sim - elapsed_real) < 0.5
    assert abs(wall_sim.now() - time.time()) < 0.5

    request = urllib.request.Request(f"{wall_sim.url}/_ecsops/clock/advance", data=b'{"seconds": 60}',
                                     method="POST", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 409
    assert "wall clock" in json.load(refused.value)["error"]


def test_the_model_moves_between_requests_and_records_when_the_rollout_completed(wall_sim: SimServer) -> None:
    ecs = wall_sim.client("ecs")
    registered = ecs.register_task_definition(
        **{k: v for k, v in ecs.describe_task_definition(taskDefinition="web")["taskDefinition"].items()
           if k in ("family", "containerDefinitions")}
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="demo", service="web", taskDefinition=registered)
    updated_at = wall_sim.now()
    time.sleep(4.0)  # no request at all while the rollout runs
    asked_at = wall_sim.now()
    deployments = ecs.describe_services(cluster="demo", services=["web"])["services"][0]["deployments"]
    assert [(d["taskDefinition"], d["rolloutState"]) for d in deployments] == [(registered, "COMPLETED")]
    completed = _completed_at(wall_sim, registered.rsplit("/", 1)[1])
    # Completed on its own schedule (tasks start 1 s, drain 1 s), not when someone finally looked.
    assert updated_at + 1.0 <= completed < asked_at - 0.5
    assert [c["rollout_state"] for c in wall_sim.rollouts() if c["task_definition"] == registered] == [
        "IN_PROGRESS", "COMPLETED"]


def test_default_polling_exits_within_the_longest_default_interval_of_completion(
    wall_sim: SimServer, tmp_path: Path
) -> None:
    result = run_ecsops(tmp_path / "s.db", "deploy", *TARGET, "--container-image", "app=nginx:1.27",
                        "--output", "json")
    exited = time.time()
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert document["status"] == "succeeded"
    completed = _completed_at(wall_sim, document["new_task_definition"].rsplit("/", 1)[1])
    assert completed <= exited
    assert exited - completed <= ADAPTIVE_MAX_INTERVAL + EXIT_MARGIN_SECONDS
