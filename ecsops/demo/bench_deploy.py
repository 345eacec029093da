"""API calls and wall time of deploys on the simulator, and the start-up time of `ecsops --help`."""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HELP_SAMPLES = 5


@dataclass(frozen=True)
class DeployCase:
    title: str
    image: str
    circuit_breaker: bool


CASES = (
    DeployCase("good deploy", "nginx:1.27", circuit_breaker=True),
    DeployCase("failing image, ECS circuit breaker rolls back", "nginx:broken", circuit_breaker=True),
    DeployCase("failing image, no circuit breaker: timeout, ecsops rolls back", "nginx:broken", circuit_breaker=False),
)


@dataclass(frozen=True)
class DeployMeasurement:
    case: DeployCase
    status: str
    wall_seconds: float
    virtual_seconds: float
    counts: dict[str, int]


def _scenario(case: DeployCase) -> Any:
    from ecsops.sim.scenario import demo_scenario

    scenario = demo_scenario()
    web = scenario.services[0].model_copy(
        update={"circuit_breaker": case.circuit_breaker, "rollback": case.circuit_breaker}
    )
    return scenario.model_copy(update={"services": [web]})


def measure_deploy(server: Any, case: DeployCase, store_dir: Path) -> DeployMeasurement:
    """One deploy of demo/web driven in-process by the engine, as `ecsops deploy` would drive it."""
    from ecsops.cli.progress import StderrReporter
    from ecsops.cli.runner import make_engine
    from ecsops.deploy.flags import parse_edits
    from ecsops.deploy.operation import SPEC
    from ecsops.deploy.params import DeployParams
    from store.open import open_store

    server.reset(_scenario(case))
    params = DeployParams(
        cluster="demo", service="web", edits=parse_edits([f"app={case.image}"], [], [], [], [], None),
        timeout_seconds=600, poll_interval=None,
    )
    store = open_store(str(store_dir / f"deploy-{len(case.title)}.db"))
    engine = make_engine(store, StderrReporter(quiet=True), threading.Event())
    started_virtual, started_wall = server.now(), time.perf_counter()
    run = engine.start(
        SPEC.build(params.recorded()), run_id=f"bench-{case.image}-{case.circuit_breaker}", target=params.target,
        params=params.recorded(),
    )
    return DeployMeasurement(
        case, run.status, time.perf_counter() - started_wall, server.now() - started_virtual, server.counts()
    )


def help_startup_seconds() -> float:
    """Median wall time of `python -m ecsops --help` in a fresh interpreter."""
    samples = []
    for _ in range(HELP_SAMPLES):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ecsops", "--help"], capture_output=True, check=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def render(measurements: list[DeployMeasurement]) -> str:
    lines = []
    for m in measurements:
        calls = ", ".join(f"{op} {n}" for op, n in sorted(m.counts.items()))
        lines.append(f"{m.case.title}: {m.status}, {sum(m.counts.values())} calls ({calls}); "
                     f"wall {m.wall_seconds:.2f}s, virtual {m.virtual_seconds:.0f}s")
    return "\n".join(lines)
