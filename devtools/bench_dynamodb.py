"""The DynamoDB store's cost on the simulator: requests and write units per good deploy and per replaced
instance (the CLI driven in-process, as a runner would run it), and `ecsops runs` over 10 000 runs."""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

TABLE = "ecsops-bench"
STORE = f"dynamodb://{TABLE}"
RUNS_LOADED = 10_000
RUNS_SAMPLES = 5
REQUEST_GOAL = 20


@dataclass(frozen=True)
class StoreCost:
    title: str
    exit_code: int
    requests: dict[str, int]
    write_units: float
    per: int = 1

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def line(self) -> str:
        calls = ", ".join(f"{op} {n}" for op, n in sorted(self.requests.items()))
        per = ""
        if self.per > 1:
            per = f"; per instance {self.total / self.per:.1f} requests, {self.write_units / self.per:.0f} WCU"
        return (
            f"{self.title}: exit {self.exit_code}, {self.total} DynamoDB requests ({calls}), "
            f"~{self.write_units:.0f} WCU{per}"
        )


def _fresh_table(server: Any, scenario: Any) -> None:
    from store.dynamodb_admin import init_table
    from store.dynamodb_requests import DynamoTable
    from store.location import parse_store_location

    server.reset(scenario)
    location = parse_store_location(STORE)
    init_table(DynamoTable(location))  # type: ignore[arg-type]
    server.reset_counts()


def _cli(args: list[str]) -> int:
    """`ecsops ARGS` in this process, its output swallowed; returns the exit code."""
    from ecsops.cli.app import app

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            app(["--store", STORE, *args], standalone_mode=False)
        except SystemExit as exc:
            return int(exc.code or 0)
        except Exception as exc:  # click's Exit in non-standalone mode
            return int(getattr(exc, "exit_code", 1))
    return 0


def _measure(server: Any, title: str, args: list[str], per: int = 1) -> StoreCost:
    from devtools.dynamodb_units import WriteUnitMeter

    meter = WriteUnitMeter(server)
    with meter.active():
        code = _cli(args)
    requests = {key.split(":", 1)[1]: n for key, n in server.counts().items() if key.startswith("dynamodb:")}
    return StoreCost(title, code, requests, meter.units, per)


def measure_deploy(server: Any, *extra: str) -> StoreCost:
    from ecsops.sim.scenario import demo_scenario

    _fresh_table(server, demo_scenario())
    return _measure(
        server, "good deploy (ecsops deploy demo/web" + (f" {' '.join(extra)})" if extra else ")"),
        ["deploy", "--cluster", "demo", "--service", "web", "--container-image", "app=nginx:1.27",
         "--poll-interval", "0", *extra],
    )


def measure_replace(server: Any, instances: int) -> StoreCost:
    from devtools.bench import fleet

    _fresh_table(server, fleet(instances))
    return _measure(
        server, f"replace-instances, {instances} instances",
        ["replace-instances", "--asg", "bench-asg", "--cluster", "bench", "--poll-interval", "0",
         "--run-id", f"bench-replace-{instances}"],
        per=instances,
    )


def load_runs(count: int) -> None:
    """count finished deploy runs (run, five transitions, two steps each), written in batches."""
    from store import dynamodb_codec as codec
    from store.dynamodb_requests import DynamoTable
    from store.location import DynamoLocation, parse_store_location
    from store.models import RunRecord, StepRecord, TransitionRecord

    location = parse_store_location(STORE)
    assert isinstance(location, DynamoLocation)
    table = DynamoTable(location)
    items: list[dict[str, Any]] = []
    states = ["planned", "snapshotted", "registering", "updating", "waiting", "succeeded"]
    for i in range(count):
        run_id = f"deploy-{i:05d}"
        at = f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00.{i:06d}+00:00"
        status = "rolled_back" if i % 10 == 0 else "succeeded"
        run = RunRecord(
            run_id=run_id, operation="deploy", target=f"ecs:123456789012:us-east-1:demo/svc{i % 50}",
            status=status, state=status, version=9, machine_version="44be38c216698fa7", ecsops_version="0.1.0",
            params={"cluster": "demo", "service": f"svc{i % 50}"}, facts={"deployment_id": f"ecs-svc/{i}"},
            started_by="ci@runner", started_at=at, updated_at=at, finished_at=at,
        )
        items.append(codec.run_item(run, transition_seq=5, write_id="bench"))
        for seq in range(1, 6):
            items.append(codec.transition_item(TransitionRecord(
                run_id=run_id, seq=seq, source=states[seq - 1], dest=states[seq], trigger="t", at=at
            )))
        for order, name in enumerate(("register_task_definition", "update_service"), start=1):
            step = StepRecord(run_id=run_id, name=name, status="succeeded", request={"n": name}, result={"ok": 1},
                              started_at=at, finished_at=at)
            items.append(codec.step_item(step, order=order, write_id="bench"))
    table.batch_write(items)


def runs_latency(env: dict[str, str], *args: str) -> float:
    """Median wall time of `ecsops runs ARGS --output json` in a fresh process (start-up included)."""
    samples = []
    for _ in range(RUNS_SAMPLES):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ecsops", "--store", STORE, "runs", *args, "--output", "json"],
                       capture_output=True, check=True, env=env)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def measure_runs(server: Any) -> list[str]:
    from ecsops.sim.scenario import Scenario

    _fresh_table(server, Scenario())
    started = time.perf_counter()
    load_runs(RUNS_LOADED)
    loaded = time.perf_counter() - started
    env = dict(os.environ)
    lines = [f"`ecsops runs` over {RUNS_LOADED} runs in the simulator's table (loaded in {loaded:.0f}s), "
             f"median of {RUNS_SAMPLES} fresh processes:"]
    for title, args in (
        ("newest 50 (default)", ()),
        ("--limit 10", ("--limit", "10")),
        ("--target (one of 50 services)", ("--target", "ecs:123456789012:us-east-1:demo/svc7")),
        ("--status rolled_back --since 2026-06-01", ("--status", "rolled_back", "--since", "2026-06-01")),
    ):
        server.reset_counts()
        seconds = runs_latency(env, *args)
        requests = {key.split(":", 1)[1]: n // RUNS_SAMPLES for key, n in server.counts().items()
                    if key.startswith("dynamodb:")}
        calls = ", ".join(f"{op} {n}" for op, n in sorted(requests.items()))
        lines.append(f"  {title}: {seconds:.2f}s ({calls} per call)")
    lines.append(f"  the same newest 50 read in-process (no start-up): {_histories_seconds():.2f}s; "
                 f"`ecsops --help` start-up for comparison: {_help_seconds(env):.2f}s")
    return lines


def _histories_seconds() -> float:
    from store.models import RunFilter
    from store.open import open_store

    store = open_store(STORE)
    samples = []
    for _ in range(RUNS_SAMPLES):
        started = time.perf_counter()
        store.histories(RunFilter(limit=50))
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _help_seconds(env: dict[str, str]) -> float:
    samples = []
    for _ in range(RUNS_SAMPLES):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ecsops", "--help"], capture_output=True, check=True, env=env)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def report(server: Any) -> tuple[list[str], bool]:
    deploy = measure_deploy(server)
    with_id = measure_deploy(server, "--run-id", "bench-deploy")
    small, large = measure_replace(server, 3), measure_replace(server, 6)
    marginal = (large.total - small.total) / 3
    goal = "met" if deploy.total <= REQUEST_GOAL else "NOT met"
    lines = [
        "DynamoDB store (the CLI in-process against the simulator; write units by DynamoDB's rules from the items "
        "each write touched):",
        deploy.line(), with_id.line(), small.line(), large.line(),
        f"each instance more adds {marginal:.1f} requests ({(large.write_units - small.write_units) / 3:.0f} WCU)",
        f"goal: at most {REQUEST_GOAL} requests per good deploy: {goal}",
    ]
    lines += measure_runs(server)
    ok = all(cost.exit_code == 0 for cost in (deploy, with_id, small, large))
    return lines, ok
