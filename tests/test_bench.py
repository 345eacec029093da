"""`make bench`: each tool is driven through its CLI against the simulator and counted there; the table shows both
tools' figures with their ratio. Only virtual-clock cases run here (the wall-clock ones take real minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools import bench_deploy, bench_startup
from devtools.bench_deploy import CASES, ECSOPS, FABFUEL, Case, CaseResult, ToolRun
from ecsops.sim.server import SimServer

NO_SLEEP = CASES[0]

needs_fabfuel = pytest.mark.skipif(bench_deploy.tool_path("ecs") is None,
                                   reason="fabfuel's ecs-deploy (dev extras) is not installed")


@pytest.fixture
def virtual_sim(sim_server: SimServer) -> SimServer:
    sim_server.use_clock("virtual")
    return sim_server


@needs_fabfuel
@pytest.mark.process
def test_both_tools_deploy_through_their_cli_and_are_counted_by_the_simulator(
    virtual_sim: SimServer, tmp_path: Path
) -> None:
    assert NO_SLEEP.clock == "virtual" and NO_SLEEP.no_sleep
    scenario, _ = NO_SLEEP.scenario()
    assert scenario is not None
    for tool in (ECSOPS, FABFUEL):
        run = bench_deploy.measure(virtual_sim, NO_SLEEP, scenario, tool, tmp_path)
        assert (run.exit_code, run.outcome) == (0, "succeeded"), run
        assert run.counts.get("ecs:RegisterTaskDefinition") == 1 and run.counts.get("ecs:UpdateService") == 1
        assert run.counts["ecs:DescribeServices"] >= 2  # it polled
        assert run.final_task_definition == "web:2"
        assert run.after_completion is None  # only measured on the wall clock


@pytest.mark.process
def test_the_unable_to_place_case_meets_unable_to_place_then_succeeds_for_ecsops(
    virtual_sim: SimServer, tmp_path: Path
) -> None:
    case = CASES[-1]
    scenario, _ = case.scenario()
    assert scenario is not None
    virtual = Case(case.title, case.image, "virtual", case.timeout_seconds, case.scenario, no_sleep=True)
    run = bench_deploy.measure(virtual_sim, virtual, scenario, ECSOPS, tmp_path)
    assert run.outcome == "succeeded", run
    events = virtual_sim.client("ecs").describe_services(cluster="demo", services=["web"])["services"][0]["events"]
    assert any("unable to place a task" in event["message"] for event in events)


def test_table_shows_each_tools_figure_and_the_ratio() -> None:
    good = CASES[1]

    def run(tool: str, requests: int, after: float) -> ToolRun:
        return ToolRun(tool, 0, "succeeded", 30.0, {"ecs:DescribeServices": requests}, "web:2", after, 20.0)

    result = CaseResult(good, "demo", {ECSOPS: run(ECSOPS, 10, 6.0), FABFUEL: run(FABFUEL, 40, 0.5)})
    table = bench_deploy.render([result])
    assert good.title in table
    requests = next(line for line in table.splitlines() if line.strip().startswith("requests"))
    assert requests.split()[1:] == ["10", "40", "0.25"]
    after = next(line for line in table.splitlines() if "completing it to exit" in line)
    assert after.split()[-3:] == ["6.0", "0.5", "12.00"]
    missing = bench_deploy.render([CaseResult(good, "(scenario not available)", {})])
    assert "(scenario not available)" in missing


def test_startup_table_gives_each_command_against_fabfuels_help() -> None:
    startups = [bench_startup.Startup("ecsops --help", 0.3), bench_startup.Startup("fabfuel ecs --help", 0.6)]
    lines = bench_startup.render(startups).splitlines()
    assert lines[1].split()[-2:] == ["0.300", "0.50"] and lines[2].split()[-2:] == ["0.600", "1.00"]
