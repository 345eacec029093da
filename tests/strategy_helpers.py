"""Shared bits of the BLUE_GREEN, LINEAR and CANARY deploy tests: scenarios, a deploy with adaptive polling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli_helpers import Result, run_ecsops, start_ecsops
from deploy_helpers import TARGET, demo_with

from ecsops.sim.scenario import LifecycleHookSpec, Scenario
from ecsops.sim.server import SimServer

GOOD = ("--container-image", "app=nginx:1.27")
BROKEN = ("--container-image", "app=nginx:broken")
NATIVE_PATH = [
    ("planned", "snapshotted"), ("snapshotted", "registering"), ("registering", "updating"),
    ("updating", "binding"), ("binding", "following"),
]


def native_demo(strategy: str = "BLUE_GREEN", *, bake: int = 30, **changes: Any) -> Scenario:
    """demo/web on a native strategy. Polls do not move virtual time (tick 0): only the client's waits do, so
    what the client notices and when is exact."""
    service: dict[str, Any] = {"strategy": strategy, "bake_time_minutes": bake}
    if strategy == "LINEAR":
        service |= {"linear_step_percent": 25.0, "linear_step_bake_minutes": 2}
    if strategy == "CANARY":
        service |= {"canary_percent": 10.0, "canary_bake_minutes": 5}
    service |= {k: v for k, v in changes.items() if k not in SCENARIO_FIELDS}
    scenario = demo_with(**service)
    return scenario.model_copy(update={"tick_seconds": 0.0, **{k: changes[k] for k in changes if k in SCENARIO_FIELDS}})


SCENARIO_FIELDS = {"hook_answers", "alarm_breaches", "failing_rollbacks", "foreign_updates", "stops"}


def pause_hook(stage: str = "POST_TEST_TRAFFIC_SHIFT", timeout_minutes: int = 20160,
               action: str = "ROLLBACK") -> LifecycleHookSpec:
    return LifecycleHookSpec(target_type="PAUSE", lifecycle_stages=[stage], timeout_minutes=timeout_minutes,
                             timeout_action=action)  # type: ignore[arg-type]


def lambda_hook(stage: str, timeout_minutes: int | None = None, action: str | None = None) -> LifecycleHookSpec:
    return LifecycleHookSpec(target_type="AWS_LAMBDA", lifecycle_stages=[stage], timeout_minutes=timeout_minutes,
                             timeout_action=action)  # type: ignore[arg-type]


def native_deploy(store: Path, *args: str, **env: str) -> Result:
    """`ecsops deploy` on demo/web with its default (adaptive) polling on the simulator's virtual clock."""
    return run_ecsops(store, "deploy", *TARGET, *args, timeout=120, **env)


def start_native_deploy(store: Path, *args: str, **env: str) -> Any:
    """`ecsops deploy` on demo/web with its default polling, in the background (a real process)."""
    return start_ecsops(store, "deploy", *TARGET, *args, **env)


def changes(sim: SimServer, status: str) -> list[dict[str, Any]]:
    """The service deployments' changes to `status`, as the simulator recorded them (with their instant)."""
    return [c for c in sim.service_deployment_changes() if c["status"] == status]


def path_of(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t["source"], t["dest"]) for t in document["transitions"]]
