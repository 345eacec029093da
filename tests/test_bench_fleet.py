"""`python -m devtools.bench_fleet`: deploy-fleet against one deploy process per service, counted by the simulator.
A small fleet here (fabfuel's processes left to `make bench`, to keep this quick)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools import bench_fleet
from devtools.bench_fleet import DEPLOYS, FABFUEL, FLEET, FleetRun
from ecsops.sim.server import SimServer

SERVICES = 3


@pytest.fixture
def virtual_sim(sim_server: SimServer) -> SimServer:
    sim_server.use_clock("virtual")
    return sim_server


def cells(table: str, tool: str) -> list[str]:
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()]
    return next(row for row in rows if row[0] == tool or row[0].startswith(f"{tool} x"))


@pytest.mark.process
def test_the_fleet_makes_fewer_describe_services_than_one_deploy_per_service(
    virtual_sim: SimServer, tmp_path: Path
) -> None:
    fleet, deploys = bench_fleet.run(virtual_sim, SERVICES, tmp_path, tools=(FLEET, DEPLOYS), store_requests=False)
    assert (fleet.tool, deploys.tool) == (FLEET, DEPLOYS)
    assert fleet.ok and deploys.ok, (fleet, deploys)
    assert (fleet.processes, deploys.processes) == (1, SERVICES)
    for run in (fleet, deploys):
        assert run.calls("RegisterTaskDefinition") == SERVICES and run.calls("UpdateService") == SERVICES
        assert run.dynamodb_requests == 0 and run.store_requests is None  # recorded on a SQLite file
        assert run.aws_requests == sum(run.counts.values())
    assert fleet.calls("DescribeServices") < deploys.calls("DescribeServices")
    assert fleet.poll_rounds > 0 and fleet.poll_requests <= 2 * fleet.poll_rounds  # one per cluster per round
    assert deploys.poll_rounds == deploys.poll_requests > 0

    table = bench_fleet.render([fleet, deploys])
    lines = table.splitlines()
    assert len(lines) == 4 and set(lines[1]) == {"|", "-"}
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header == list(bench_fleet.HEADER)
    row = dict(zip(header, cells(table, FLEET), strict=True))
    assert row["outcome"] == f"{SERVICES}/{SERVICES} on new revision, exit 0"
    assert int(row["DescribeServices"]) == fleet.calls("DescribeServices")
    assert int(row["poll rounds"]) == fleet.poll_rounds
    assert cells(table, DEPLOYS)[0] == f"{DEPLOYS} x{SERVICES}"

    # The store's requests: the fleet again from the same fresh scenario, recording on the simulator's DynamoDB.
    counted = bench_fleet.with_store_requests(virtual_sim, bench_fleet.fleet_scenario(SERVICES), fleet, tmp_path)
    assert counted.store_pass_ok and counted.store_requests is not None and counted.store_requests > 0
    assert counted.counts == fleet.counts  # the AWS figures stay the first pass's
    assert cells(bench_fleet.render([counted]), FLEET)[-1] == str(counted.store_requests)


def test_the_table_and_its_note_say_what_each_figure_counts() -> None:
    def run(tool: str, processes: int, describe: int, polls: int, rounds: int, codes: int = 0) -> FleetRun:
        counts = {"ecs:DescribeServices": describe, "ecs:UpdateService": 50}
        store = None if tool == FABFUEL else 7
        return FleetRun(tool, 50, processes, (codes,) * processes, 4.0, counts, polls, rounds, 49, store, True)

    runs = [run(FLEET, 1, 64, 14, 3), run(DEPLOYS, 50, 200, 150, 150), run(FABFUEL, 50, 200, 150, 150, codes=1)]
    table = bench_fleet.render(runs)
    fleet, fabfuel = cells(table, FLEET), cells(table, FABFUEL)
    assert fleet[1:] == ["1", "49/50 on new revision, exit 0", "114", "64", "1.28", "14", "3", "4.67", "4.0", "7"]
    assert fabfuel[2] == "49/50 on new revision, 50 exit non-0" and fabfuel[-1] == "-"  # fabfuel has no store
    assert not any(r.ok for r in runs)
    note = bench_fleet.note(50)
    for words in ("poll_rounds", "--poll-interval 0", "--sleep-time 0", "virtual clock", "at most 6 here",
                  "python -m devtools.bench_fleet"):
        assert words in note.replace("\n", " ")
