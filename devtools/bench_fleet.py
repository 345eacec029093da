"""`python -m devtools.bench_fleet`: one fleet of ROLLING services (FARGATE, spread over two clusters) given the same
image change three ways on one simulator, each from the same fresh scenario:

- one `ecsops deploy-fleet FILE` process;
- one `ecsops deploy` process per service, in sequence;
- one fabfuel `ecs deploy` process per service, in sequence.

Every tool polls without pause (ecsops: `poll-interval = "0"` in the file, `--poll-interval 0`; fabfuel:
`--sleep-time 0`) while the simulator's virtual clock moves 5 s per read, so the figures compare requests, not
sleeps. ecsops records on a SQLite file, its default kind of store; then each ecsops command is repeated from the
same fresh scenario recording on a DynamoDB table in the simulator, where its store requests are counted."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from unittest import mock

from ecsops.sim.scenario import ClusterSpec, ContainerSpec, Scenario, ServiceSpec, TaskDefinitionSpec
from ecsops.sim.server import SimServer

CLUSTERS = ("alpha", "beta")
OLD_IMAGE, NEW_IMAGE = "nginx:1.25", "nginx:1.27"
CONTAINER = "app"
TIMEOUT_SECONDS = 600
STORE_TABLE = "ecsops-bench-fleet"
STORE = f"dynamodb://{STORE_TABLE}"
FLEET, DEPLOYS, FABFUEL = "ecsops deploy-fleet", "ecsops deploy", "fabfuel ecs deploy"
TOOLS = (FLEET, DEPLOYS, FABFUEL)
DEFAULT_SERVICES = 50
SCRIPTS = {FLEET: "ecsops", DEPLOYS: "ecsops", FABFUEL: "ecs"}


def fleet_scenario(count: int) -> Scenario:
    """`count` services svc01.. over CLUSTERS in turn, each its own family (container app on OLD_IMAGE), desired 2,
    FARGATE (no container instances needed), ROLLING."""
    families, services = [], []
    for number in range(1, count + 1):
        name = f"svc{number:02d}"
        families.append(TaskDefinitionSpec(family=name, containers=[ContainerSpec(name=CONTAINER, image=OLD_IMAGE)]))
        services.append(ServiceSpec(name=name, cluster=CLUSTERS[(number - 1) % len(CLUSTERS)], task_definition=name,
                                    desired_count=2, launch_type="FARGATE"))
    return Scenario(clusters=[ClusterSpec(name=cluster) for cluster in CLUSTERS], task_definitions=families,
                    services=services)


def fleet_file(path: Path, scenario: Scenario) -> Path:
    """The deploy-fleet file giving every service of the scenario NEW_IMAGE, polling without pause."""
    lines = ['poll-interval = "0"', f'timeout = "{TIMEOUT_SECONDS}s"']
    for spec in scenario.services:
        lines += ["", "[[service]]", f'cluster = "{spec.cluster}"', f'service = "{spec.name}"',
                  f'container-image = ["{CONTAINER}={NEW_IMAGE}"]']
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(frozen=True)
class FleetRun:
    tool: str
    services: int
    processes: int
    exit_codes: tuple[int, ...]
    wall_seconds: float
    # Requests per "service:Operation" the simulator received while the tool ran (the store's included).
    counts: dict[str, int]
    # DescribeServices sent after the tool's first UpdateService of a service: its waits' polls.
    poll_requests: int
    # deploy-fleet: its document's poll_rounds; one-service deploys: each poll is a round of one request.
    poll_rounds: int
    on_new_revision: int
    # The same deploy again recording on a DynamoDB store in the simulator: that store's requests, and whether
    # every service then reached its new revision too (None: not measured, fabfuel records nothing).
    store_requests: int | None = None
    store_pass_ok: bool | None = None

    @property
    def aws_requests(self) -> int:
        return sum(n for op, n in self.counts.items() if not op.startswith("dynamodb:"))

    @property
    def dynamodb_requests(self) -> int:
        return sum(n for op, n in self.counts.items() if op.startswith("dynamodb:"))

    def calls(self, operation: str) -> int:
        return self.counts.get(f"ecs:{operation}", 0)

    @property
    def ok(self) -> bool:
        done = self.on_new_revision == self.services and all(code == 0 for code in self.exit_codes)
        return done and self.store_pass_ok is not False


class PollCounter:
    """Counts DescribeServices served after the current process's first UpdateService (call start() per process)."""

    def __init__(self) -> None:
        self.polls = 0
        self._updated = False

    def start(self) -> None:
        self._updated = False

    def __call__(self, service: str, operation: str) -> None:
        if service == "ecs" and operation == "UpdateService":
            self._updated = True
        elif service == "ecs" and operation == "DescribeServices" and self._updated:
            self.polls += 1


def tool_path(name: str) -> Path | None:
    path = Path(sys.executable).parent / name
    return path if path.exists() else None


def _aws_env(server: SimServer) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": server.scenario.region}


def _env(server: SimServer, store: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "ECSOPS_CLOCK",
                 "ECSOPS_CRASH_AT", "ECSOPS_STORE"):
        env.pop(name, None)
    # Each tool keeps the system's clock; none sleeps, so the simulator's time moves with their reads.
    env.update(_aws_env(server), ECSOPS_STORE=store)
    return env


@contextlib.contextmanager
def _pointed_at(server: SimServer) -> Iterator[None]:
    """This process's AWS environment pointed at the simulator for a moment (the store table's creation)."""
    with mock.patch.dict(os.environ, _aws_env(server)):
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(name, None)
        yield


def _fresh(server: SimServer, scenario: Scenario, counter: PollCounter, store: str) -> None:
    """The scenario on a fresh account, an empty store (table), counts at zero, polls counted."""
    from store.dynamodb_admin import init_table
    from store.dynamodb_requests import DynamoTable
    from store.location import DynamoLocation, parse_store_location

    server.use_clock("virtual")
    server.reset(scenario)
    location = parse_store_location(store)
    if isinstance(location, DynamoLocation):
        with _pointed_at(server):
            init_table(DynamoTable(location))
    else:
        Path(store).unlink(missing_ok=True)
    server.reset_counts()
    server.on_request(counter)


def _argv(tool: str, spec: ServiceSpec) -> list[str]:
    if tool == DEPLOYS:
        return [str(tool_path("ecsops")), "deploy", "--cluster", spec.cluster, "--service", spec.name,
                "--container-image", f"{CONTAINER}={NEW_IMAGE}", "--timeout", f"{TIMEOUT_SECONDS}s",
                "--poll-interval", "0", "--output", "json"]
    # fabfuel rolls back only when asked; ecsops always does, so ask (as devtools/bench_deploy.py does).
    return [str(tool_path("ecs")), "deploy", spec.cluster, spec.name, "--image", CONTAINER, NEW_IMAGE,
            "--timeout", str(TIMEOUT_SECONDS), "--rollback", "--sleep-time", "0"]


def _on_new_revision(server: SimServer, scenario: Scenario) -> int:
    """How many services run revision 2 of their family (the tool's new task definition) now."""
    ecs = server.client("ecs")
    done = 0
    for cluster in CLUSTERS:
        names = [spec.name for spec in scenario.services if spec.cluster == cluster]
        for start in range(0, len(names), 10):
            described = ecs.describe_services(cluster=cluster, services=names[start:start + 10])["services"]
            done += sum(1 for s in described if str(s["taskDefinition"]).rsplit("/", 1)[-1] == f"{s['serviceName']}:2")
    return done


def measure(server: SimServer, scenario: Scenario, tool: str, workdir: Path, store: str | None = None) -> FleetRun:
    """One tool deploying NEW_IMAGE to every service of the scenario, from a fresh account; ecsops records on
    `store` (default: a fresh SQLite file in workdir, ecsops's default kind of store)."""
    store = store or str(workdir / "bench-fleet.db")
    counter = PollCounter()
    _fresh(server, scenario, counter, store)
    env = _env(server, store)
    codes: list[int] = []
    rounds = 0
    started = time.perf_counter()
    if tool == FLEET:
        file = fleet_file(workdir / "fleet.toml", scenario)
        completed = subprocess.run([str(tool_path("ecsops")), "deploy-fleet", str(file), "--output", "json"],
                                   env=env, capture_output=True, text=True, check=False, timeout=TIMEOUT_SECONDS * 2)
        codes.append(completed.returncode)
        try:
            rounds = int(json.loads(completed.stdout)["poll_rounds"])
        except (ValueError, KeyError, TypeError):
            rounds = 0
    else:
        for spec in scenario.services:
            counter.start()
            completed = subprocess.run(_argv(tool, spec), env=env, capture_output=True, text=True, check=False,
                                       timeout=TIMEOUT_SECONDS * 2)
            codes.append(completed.returncode)
    wall = time.perf_counter() - started
    counts = server.counts()
    if tool != FLEET:
        rounds = counter.polls
    return FleetRun(tool, len(scenario.services), len(codes), tuple(codes), wall, counts, counter.polls, rounds,
                    _on_new_revision(server, scenario))


def available_tools(tools: Sequence[str] = TOOLS) -> list[str]:
    return [tool for tool in tools if tool_path(SCRIPTS[tool]) is not None]


def with_store_requests(server: SimServer, scenario: Scenario, run: FleetRun, workdir: Path) -> FleetRun:
    """The run's deploy again from the same fresh scenario, recording on a DynamoDB store in the simulator: its
    store requests. (A second pass: the simulator's DynamoDB tables answer far slower than a SQLite file, which
    would make the wall time the simulator's.)"""
    again = measure(server, scenario, run.tool, workdir, STORE)
    return replace(run, store_requests=again.dynamodb_requests, store_pass_ok=again.ok)


def run(
    server: SimServer, services: int, workdir: Path, tools: Sequence[str] = TOOLS, *, store_requests: bool = True
) -> list[FleetRun]:
    """Each available tool in turn on the same fresh fleet of `services` services; with store_requests, each ecsops
    command once more on a DynamoDB store."""
    scenario = fleet_scenario(services)
    runs = []
    for tool in available_tools(tools):
        measured = measure(server, scenario, tool, workdir)
        if store_requests and tool != FABFUEL:
            measured = with_store_requests(server, scenario, measured, workdir)
        runs.append(measured)
    return runs


# --- rendering ----------------------------------------------------------------------------------------------

HEADER = ("tool", "processes", "outcome", "AWS requests", "DescribeServices", "DescribeServices per service",
          "polls", "poll rounds", "polls per round", "wall time, s", "store requests")


def _outcome(run: FleetRun) -> str:
    failed = sum(1 for code in run.exit_codes if code != 0)
    exits = "exit 0" if failed == 0 else f"{failed} exit non-0"
    return f"{run.on_new_revision}/{run.services} on new revision, {exits}"


def row(run: FleetRun) -> tuple[str, ...]:
    per_round = f"{run.poll_requests / run.poll_rounds:.2f}" if run.poll_rounds else "-"
    store = "-" if run.store_requests is None else str(run.store_requests)
    return (
        run.tool + ("" if run.tool == FLEET else f" x{run.services}"), str(run.processes), _outcome(run),
        str(run.aws_requests), str(run.calls("DescribeServices")),
        f"{run.calls('DescribeServices') / run.services:.2f}", str(run.poll_requests), str(run.poll_rounds),
        per_round, f"{run.wall_seconds:.1f}", store,
    )


def render(runs: Sequence[FleetRun]) -> str:
    """A markdown table, one row per tool."""
    table = [HEADER, *(row(run) for run in runs)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    lines = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) + " |"
             for line in table]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def note(services: int) -> str:
    per_cluster = [len(range(index, services, len(CLUSTERS))) for index in range(len(CLUSTERS))]
    per_round = sum(-(-count // 10) for count in per_cluster)
    text = (
        f"Note: {services} ROLLING FARGATE services over {len(CLUSTERS)} clusters, each {CONTAINER}={OLD_IMAGE} -> "
        f"{NEW_IMAGE}; the simulator is reset to the same scenario before each tool. Every tool polls without pause "
        "(ecsops: poll-interval \"0\" in the file, deploy --poll-interval 0; fabfuel: --sleep-time 0) on the "
        "simulator's virtual clock (5 s per read), so this compares requests, not sleeps. "
        "AWS requests: all but the store's. "
        "polls: the DescribeServices a process sent after its first UpdateService (the others are preflight and "
        "snapshot reads). "
        "poll rounds: for deploy-fleet its run document's poll_rounds, each round one DescribeServices per 10 "
        f"services of a cluster still waiting (at most {per_round} here); a one-service deploy's round is a single "
        "DescribeServices, so its rounds are its polls, summed over the processes. "
        "Wall time includes every process's start-up; ecsops records on its default kind of store, a SQLite file. "
        "store requests: the DynamoDB requests of the same ecsops deploy repeated (from the same fresh scenario) "
        f"recording on a {STORE} table in the simulator instead (fabfuel records nothing). "
        "Repeat with `python -m devtools.bench_fleet --services N` (or `make bench`)."
    )
    return textwrap.fill(text, width=118, break_on_hyphens=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench_fleet", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=DEFAULT_SERVICES,
                        help="services in the fleet (default: %(default)s)")
    parser.add_argument("--no-store-requests", action="store_true",
                        help="skip the second pass of the ecsops commands on a DynamoDB store")
    args = parser.parse_args(argv)
    if args.services < 1:
        parser.error("--services must be at least 1")
    if tool_path("ecsops") is None:
        print("the ecsops console script is not installed in this environment: run `make bench`", file=sys.stderr)
        return 2
    from devtools.bench import _compile_like_an_install

    _compile_like_an_install()  # timed as installed, as `make bench` times it
    server = SimServer(port=0).start()
    try:
        with tempfile.TemporaryDirectory() as directory:
            runs = run(server, args.services, Path(directory), store_requests=not args.no_store_requests)
    finally:
        server.stop()
    print(report(runs, args.services))
    return 0 if all(run.ok for run in runs) else 1


def report(runs: Sequence[FleetRun], services: int) -> str:
    lines = [f"deploy-fleet against {services} sequential deploys (ecsops and fabfuel), one simulator:", render(runs),
             note(services)]
    if FABFUEL not in {run.tool for run in runs}:
        lines.append("(ecs-deploy is not installed here: `make bench` installs the dev extras, which pin it)")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
