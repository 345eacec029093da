"""Shared bits of the deploy-fleet tests: a fleet of services on two clusters, its file, the CLI call, AWS counts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cli_helpers import Result, run_ecsops

from ecsops.sim.scenario import ClusterSpec, ContainerSpec, Scenario, ServiceSpec, TaskDefinitionSpec

BROKEN = "nginx:broken"
GOOD = "nginx:1.27"


def fleet_scenario(count: int = 12, clusters: Sequence[str] = ("demo", "batch"), **service: Any) -> Scenario:
    """`count` services named svc01.. spread over `clusters` in turn, each its own family (container `app` on
    nginx:1.25), desired 2, ECS's circuit breaker off unless `service` says otherwise; nginx:broken never starts."""
    families, services = [], []
    for number in range(1, count + 1):
        name = f"svc{number:02d}"
        families.append(TaskDefinitionSpec(family=name, containers=[ContainerSpec(name="app", image="nginx:1.25")]))
        services.append(ServiceSpec(name=name, cluster=clusters[(number - 1) % len(clusters)], task_definition=name,
                                    desired_count=2, launch_type="FARGATE", **service))
    return Scenario(
        clusters=[ClusterSpec(name=cluster) for cluster in clusters],
        task_definitions=families,
        services=services,
        failing_images=[BROKEN],
    )


def service_names(scenario: Scenario) -> list[str]:
    """CLUSTER/SERVICE of every service, in the scenario's order (the file's)."""
    return [f"{s.cluster}/{s.name}" for s in scenario.services]


def fleet_file(path: Path, scenario: Scenario, *, broken: Sequence[str] = (), top: str = "") -> Path:
    """A fleet file deploying GOOD to every service of the scenario, BROKEN to the services named in `broken`."""
    lines = [top] if top else []
    for spec in scenario.services:
        image = BROKEN if spec.name in broken else GOOD
        lines += ["", "[[service]]", f'cluster = "{spec.cluster}"', f'service = "{spec.name}"',
                  f'container-image = ["app={image}"]']
    path.write_text("\n".join(lines) + "\n")
    return path


def deploy_fleet(store: Path, file: Path, *args: str, **env: str) -> Result:
    """`ecsops deploy-fleet FILE` polling without pause (the simulator's clock is virtual)."""
    return run_ecsops(store, "deploy-fleet", str(file), *args, **env)


def services_by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in document["services"]}


def task_definition_of(sim: Any, cluster: str, service: str) -> str:
    """The service's task definition now, as `family:revision`."""
    described = sim.client("ecs").describe_services(cluster=cluster, services=[service])["services"][0]
    return str(described["taskDefinition"]).rsplit("/", 1)[-1]
