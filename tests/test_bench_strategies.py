"""`make bench`, ECS-native strategies: ecsops and a services-stable waiter loop are counted by the simulator and
timed against the service deployment's SUCCESSFUL as ECS reports it. A short bake keeps the case small."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools import bench_strategies
from devtools.bench_strategies import ECSOPS, WAITER, StrategyCase, StrategyRun
from ecsops.deploy.service_deployment_wait import BAKE_POLL_INTERVAL
from ecsops.sim.server import SimServer

SMALL = StrategyCase("BLUE_GREEN, 2-min bake", "bg", {"bake_time_minutes": 2})


@pytest.fixture
def virtual_sim(sim_server: SimServer) -> SimServer:
    sim_server.use_clock("virtual")
    return sim_server


def finished_at(sim: SimServer, service: str) -> tuple[str, float]:
    """Status and finishedAt of the service's newest service deployment, read through the API (not the record)."""
    ecs = sim.client("ecs")
    newest = ecs.list_service_deployments(cluster="demo", service=service)["serviceDeployments"][0]
    found = ecs.describe_service_deployments(serviceDeploymentArns=[newest["serviceDeploymentArn"]])
    deployment = found["serviceDeployments"][0]
    return str(deployment["status"]), deployment["finishedAt"].timestamp()


@pytest.mark.process
def test_ecsops_and_the_waiter_are_counted_by_the_simulator_and_timed_against_successful(
    virtual_sim: SimServer, tmp_path: Path
) -> None:
    ours = bench_strategies.measure_ecsops(virtual_sim, SMALL, tmp_path)
    assert ours.counts == virtual_sim.counts()  # settling the deployment after the exit sent no request
    assert (ours.exit_code, ours.outcome) == (0, "succeeded"), ours
    assert ours.calls("DescribeServiceDeployments") >= 2 and ours.calls("UpdateService") == 1
    assert ours.requests == sum(n for op, n in virtual_sim.counts().items() if op.startswith("ecs:"))
    status, finished = finished_at(virtual_sim, "bg")
    assert status == "SUCCESSFUL" and ours.successful_at == pytest.approx(finished, abs=0.01)
    assert ours.after_successful is not None and 0 <= ours.after_successful <= BAKE_POLL_INTERVAL

    theirs = bench_strategies.measure_waiter(virtual_sim, SMALL)
    waiter = bench_strategies._services_stable()
    counts = virtual_sim.counts()
    assert theirs.counts == counts
    polls = counts["ecs:DescribeServices"]
    assert counts.get("ecs:DescribeServiceDeployments", 0) == 0 and counts["ecs:UpdateService"] == 1
    assert 1 <= polls <= waiter.max_attempts
    # Only the waiter's delays moved the clock (tick 0): one delay between two polls.
    assert theirs.answered - theirs.started == pytest.approx(waiter.delay * (polls - 1))
    if theirs.outcome == "gave up":
        assert polls == waiter.max_attempts
    status, finished = finished_at(virtual_sim, "bg")
    assert status == "SUCCESSFUL" and theirs.successful_at == pytest.approx(finished, abs=0.01)

    table = bench_strategies.render([ours, theirs])
    assert f"{ours.calls('DescribeServiceDeployments')} DescribeServiceDeployments" in table
    assert f"{polls} DescribeServices" in table
    assert bench_strategies.verdict(ours) == "right"
    said_early = theirs.outcome == "stable" and theirs.answered < finished
    assert bench_strategies.verdict(theirs).startswith("wrong") == said_early


def run(tool: str, outcome: str, answered: float, polls: int = 5) -> StrategyRun:
    counts = {"ecs:DescribeServices": polls} if tool == WAITER else {"ecs:DescribeServiceDeployments": polls}
    return StrategyRun(SMALL, tool, counts, outcome, 0 if outcome in ("stable", "succeeded") else 255,
                       started=1000.0, answered=answered, final_status="SUCCESSFUL", final_at=2000.0)


def test_the_table_says_when_the_waiter_answered_too_early_or_gave_up() -> None:
    early, gave_up = run(WAITER, "stable", 1820.0), run(WAITER, "gave up", 1585.0, polls=40)
    assert bench_strategies.timing(early) == "said stable 3.0m before SUCCESSFUL"
    assert bench_strategies.verdict(early).startswith("wrong")
    assert bench_strategies.timing(gave_up) == "gave up after 40 polls (9.8m), 6.9m before SUCCESSFUL"
    assert bench_strategies.verdict(gave_up) == "no answer (exit 255)"
    late = run(ECSOPS, "succeeded", 2004.0)
    assert (bench_strategies.timing(late), bench_strategies.verdict(late)) == ("+4s after SUCCESSFUL", "right")
