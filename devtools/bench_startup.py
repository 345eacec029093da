"""`make bench`, start-up: `ecsops --help`, `ecsops status ID` and `ecsops runs` against fabfuel's `ecs --help`,
each a fresh process, run alternately so that both meet the same machine load."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLES = 10
TARGET_RATIO = 0.6


@dataclass(frozen=True)
class Startup:
    label: str
    seconds: float


def _once(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    completed = subprocess.run(argv, env=env, capture_output=True, check=False)
    took = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {completed.returncode}: {completed.stderr.decode()[-500:]}")
    return took


def measure(ecsops: Path, ecs: Path, store: Path, run_id: str, samples: int = SAMPLES) -> list[Startup]:
    """Medians of `samples` runs of each command, taken round-robin; fabfuel's `ecs --help` comes last."""
    env = dict(os.environ, ECSOPS_STORE=str(store))
    commands = {
        "ecsops --help": [str(ecsops), "--help"],
        "ecsops status ID": [str(ecsops), "status", run_id],
        "ecsops runs": [str(ecsops), "runs"],
        "fabfuel ecs --help": [str(ecs), "--help"],
    }
    taken: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(samples):
        for label, argv in commands.items():
            taken[label].append(_once(argv, env))
    return [Startup(label, statistics.median(values)) for label, values in taken.items()]


def render(startups: list[Startup]) -> str:
    fabfuel = startups[-1].seconds
    lines = [f"  {'':<20}{'median s':>10}{'x ecs --help':>14}   (target <= {TARGET_RATIO} for ecsops)"]
    for startup in startups:
        lines.append(f"  {startup.label:<20}{startup.seconds:>10.3f}{startup.seconds / fabfuel:>14.2f}")
    return "\n".join(lines)
