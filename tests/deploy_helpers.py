"""Shared bits of the deploy tests: scenarios derived from the demo, a deploy CLI call, AWS-side counts."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli_helpers import Result, run_ecsops, start_ecsops

from ecsops.sim.scenario import ContainerSpec, Scenario, demo_scenario
from ecsops.sim.server import SimServer

TARGET = ["--cluster", "demo", "--service", "web"]


def deploy(store: Path, *args: str, **env: str) -> Result:
    """`ecsops deploy` on demo/web, polling without pause (the simulator's clock is virtual)."""
    return run_ecsops(store, "deploy", *TARGET, "--poll-interval", "0", *args, **env)


def start_deploy(store: Path, *args: str, fresh: bool = False, **env: str) -> Any:
    """`ecsops deploy` on demo/web in the background (polling without pause unless args say otherwise): a real
    process (cli_helpers.start_ecsops; fresh=True for a new interpreter)."""
    return start_ecsops(store, "deploy", *TARGET, "--poll-interval", "0", *args, fresh=fresh, **env)


def read_until(process: Any, fragment: str) -> str:
    """stderr lines up to and including the first one containing fragment (the process must print it)."""
    assert process.stderr is not None
    seen = ""
    while fragment not in seen:
        line = process.stderr.readline()
        assert line, f"process ended before printing {fragment!r}: {seen}"
        seen += line
    return seen


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Poll condition (for what happens in another process or in real time) until true or timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def frozen_demo() -> Scenario:
    """The demo where a poll does not move virtual time: with --poll-interval 0 a wait never ends by itself."""
    return demo_scenario().model_copy(update={"tick_seconds": 0.0})


def demo_with(**service_changes: Any) -> Scenario:
    """The demo scenario with its `web` service changed (circuit_breaker, rollback, desired_count...)."""
    scenario = demo_scenario()
    service = scenario.services[0].model_copy(update=service_changes)
    return scenario.model_copy(update={"services": [service]})


def rich_demo(**scenario_changes: Any) -> Scenario:
    """The demo with a second container (secret, json-file logs) and fields beyond the common ones."""
    scenario = demo_scenario()
    web = scenario.task_definitions[0]
    sidecar = ContainerSpec(
        name="sidecar",
        image="busybox:1",
        environment={"MODE": "tail"},
        secrets={"TOKEN": "arn:aws:ssm:us-east-1:123456789012:parameter/token"},
        log_configuration={"logDriver": "json-file", "options": {"max-size": "10m"}},
    )
    web = web.model_copy(
        update={
            "containers": [*web.containers, sidecar],
            "extra": {
                "volumes": [{"name": "data", "host": {"sourcePath": "/data"}}],
                "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
                "ephemeralStorage": {"sizeInGiB": 30},
                "taskRoleArn": "arn:aws:iam::123456789012:role/web-task",
            },
        }
    )
    return scenario.model_copy(update={"task_definitions": [web], **scenario_changes})


def revisions(sim: SimServer, family: str = "web") -> list[str]:
    arns: list[str] = sim.client("ecs").list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
    return sorted(arns, key=lambda arn: int(arn.rsplit(":", 1)[1]))


def task_definition(sim: SimServer, reference: str) -> dict[str, Any]:
    described: dict[str, Any] = sim.client("ecs").describe_task_definition(taskDefinition=reference, include=["TAGS"])
    return described


def service(sim: SimServer) -> dict[str, Any]:
    found: dict[str, Any] = sim.client("ecs").describe_services(cluster="demo", services=["web"])["services"][0]
    return found


def container(task_def: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in task_def["taskDefinition"]["containerDefinitions"] if c["name"] == name)
    return found


def named(entries: list[dict[str, Any]] | None, value_key: str) -> dict[str, Any]:
    return {entry["name"]: entry[value_key] for entry in entries or []}
