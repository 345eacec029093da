"""`python -m devtools.bench`: ecsops side by side with fabfuel's `ecs deploy` on the simulator (requests, wall
time, seconds from ECS's completion to exit, outcomes), start-up against `ecs --help`, BLUE_GREEN and LINEAR deploys
followed by ecsops and by a `services-stable` waiter (virtual time), the API calls of replace-instances for 6
and 60 instances, and a 50-service deploy-fleet against 50 sequential deploys of each tool."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ecsops.sim.scenario import AsgSpec, ClusterSpec, ContainerSpec, Scenario, ServiceSpec, TaskDefinitionSpec

CASES = ((6, 1), (6, 3), (60, 1), (60, 10))


@dataclass(frozen=True)
class Measurement:
    instances: int
    batch_size: int
    status: str
    wall_seconds: float
    virtual_seconds: float
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def fleet(instances: int) -> Scenario:
    """Every instance of the group out of date; one service with a task per instance."""
    return Scenario(
        clusters=[ClusterSpec(name="bench", max_tasks_per_instance=4)],
        task_definitions=[TaskDefinitionSpec(family="api", containers=[ContainerSpec(name="app", image="nginx:1")])],
        services=[ServiceSpec(name="api", cluster="bench", task_definition="api", desired_count=instances)],
        asgs=[
            AsgSpec(
                name="bench-asg", cluster="bench", desired_capacity=instances, max_size=instances * 2,
                out_of_date=instances,
            )
        ],
    )


def measure(server: object, instances: int, batch_size: int, store_dir: Path) -> Measurement:
    from ecsops.cli.engine_setup import make_engine
    from ecsops.cli.progress import StderrReporter
    from ecsops.replace.operation import SPEC
    from ecsops.sim.server import SimServer
    from store.open import open_store

    assert isinstance(server, SimServer)
    server.reset(fleet(instances))
    store = open_store(str(store_dir / f"bench-{instances}-{batch_size}.db"))
    params = {
        "asg": "bench-asg", "cluster": "bench", "batch_size": batch_size, "timeout": 3600.0,
        "poll_interval": None, "profile": None, "region": None,
    }
    engine = make_engine(store, StderrReporter(quiet=True), threading.Event())
    started_virtual, started_wall = server.now(), time.perf_counter()
    run = engine.start(SPEC.build(params), run_id=f"bench-{instances}-{batch_size}", target="asg:bench-asg",
                       params=params)
    return Measurement(
        instances, batch_size, run.status, time.perf_counter() - started_wall, server.now() - started_virtual,
        server.counts(),
    )


def render(measurements: list[Measurement]) -> str:
    operations = sorted({op for m in measurements for op in m.counts})
    header = ["calls"] + [f"{m.instances} inst/batch {m.batch_size}" for m in measurements]
    rows = [[op] + [str(m.counts.get(op, 0)) for m in measurements] for op in operations]
    rows.append(["total"] + [str(m.total) for m in measurements])
    rows.append(["status"] + [m.status for m in measurements])
    rows.append(["wall time"] + [f"{m.wall_seconds:.1f}s" for m in measurements])
    rows.append(["virtual time"] + [f"{m.virtual_seconds / 60:.0f}m" for m in measurements])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in [header, *rows]]
    return "\n".join(lines)


def _compile_like_an_install() -> None:
    """Timed as installed: pip compiles a wheel's modules to bytecode (fabfuel's were, at install). This editable
    ecsops would otherwise compile its sources on every run where PYTHONDONTWRITEBYTECODE is set."""
    import compileall
    import importlib

    for package in ("ecsops", "machines", "store"):
        compileall.compile_dir(Path(importlib.import_module(package).__file__ or ".").parent, quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench", description=__doc__)
    parser.add_argument("--cases", default=",".join(f"{n}x{b}" for n, b in CASES),
                        help="replace-instances: instances x batch size, comma separated (default: %(default)s)")
    parser.add_argument("--skip-replace", action="store_true", help="only the side-by-side deploys and start-up")
    parser.add_argument("--fleet-services", type=int, default=None, metavar="N",
                        help="services of the deploy-fleet comparison (default: 50; 0 skips it)")
    args = parser.parse_args(argv)
    cases = [tuple(int(part) for part in case.split("x")) for case in args.cases.split(",")]
    if args.skip_replace:
        cases = []
    from devtools import bench_deploy, bench_dynamodb, bench_fleet, bench_startup, bench_strategies, bench_ui
    from ecsops.sim.server import SimServer

    ecsops_script, ecs_script = bench_deploy.tool_path("ecsops"), bench_deploy.tool_path("ecs")
    if ecsops_script is None:
        print("the ecsops console script is not installed in this environment: run `make bench`", file=sys.stderr)
        return 2
    _compile_like_an_install()
    server = SimServer(port=0).start()
    # The in-process replace-instances runs wait on the simulator's virtual clock.
    os.environ.update(
        AWS_ENDPOINT_URL=server.url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1", ECSOPS_CLOCK="sim",
    )
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        try:
            started = time.perf_counter()
            deploys = bench_deploy.run_cases(server, workdir)
            deploy_seconds = time.perf_counter() - started
            strategies = bench_strategies.run_cases(server, workdir)
            server.use_clock("virtual")
            measurements = [measure(server, n, b, workdir) for n, b in cases]
            dynamo_lines, dynamo_ok = bench_dynamodb.report(server)
            fleet_services = bench_fleet.DEFAULT_SERVICES if args.fleet_services is None else args.fleet_services
            fleet_runs = bench_fleet.run(server, fleet_services, workdir) if fleet_services > 0 else []
        finally:
            server.stop()
        startups = (
            bench_startup.measure(ecsops_script, ecs_script, workdir / "ecsops.db", "bench-0")
            if ecs_script is not None else []
        )
    print("ecsops and fabfuel's `ecs deploy` (ecs-deploy 1.17), each run as a subprocess against the same")
    print("simulated service demo/web (desired 2, behind a target group); requests counted by the simulator;")
    print(f"ratio = ecsops / fabfuel ({deploy_seconds:.0f} s of deploys)")
    if ecs_script is None:
        print("(ecs-deploy is not installed here: `make bench` installs the dev extras, which pin it)")
    print(bench_deploy.render(deploys))
    print("\nrequests by operation:")
    print(bench_deploy.render_counts(deploys))
    if startups:
        print(f"\nstart-up, medians of {bench_startup.SAMPLES} runs each, alternating, on this machine:")
        print(bench_startup.render(startups))
    print("\nECS-native strategies on virtual time (scenario bluegreen, tick 0): `ecsops deploy` at its default")
    print("polling against `aws ecs wait services-stable` (DescribeServices every 15 s, 40 attempts) after an")
    print("UpdateService; the answer against the instant the service deployment turned SUCCESSFUL:")
    print(bench_strategies.render(strategies))
    print(bench_strategies.render_counts(strategies))
    if measurements:
        print("\nreplace-instances against the simulator: every instance out of date, adaptive polling (2s to 15s)")
        print(render(measurements))
    print()
    print("\n".join(dynamo_lines))
    if fleet_runs:
        print()
        print(bench_fleet.report(fleet_runs, fleet_services))
    print("\n" + bench_ui.report()[0])
    good = [result.runs.get(bench_deploy.ECSOPS) for result in deploys[:2]]
    deploys_ok = all(run is not None and run.outcome == "succeeded" for run in good)
    strategies_ok = all(run.exit_code == 0 for run in strategies if run.tool == bench_strategies.ECSOPS)
    fleet_ok = all(run.ok for run in fleet_runs)
    replace_ok = all(m.status == "succeeded" for m in measurements)
    return 0 if deploys_ok and strategies_ok and dynamo_ok and fleet_ok and replace_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
