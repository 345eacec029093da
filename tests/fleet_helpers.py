"""Shared bits of the deploy-fleet tests: a fleet of services on two clusters, its file, the CLI call, AWS counts."""

from __future__ import annotations

from collections.abc import Collection, Sequence
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


NO_PAUSE = 'poll-interval = "0"'  # the file's top-level line: polls without pause (the clock moves per Describe)


def revisions_of(sim: Any, family: str) -> list[str]:
    """Every revision of the family, as `family:revision`, oldest first (the simulator's ListTaskDefinitions)."""
    arns = sim.client("ecs").list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
    names = [str(arn).rsplit("/", 1)[-1] for arn in arns]
    return sorted((name for name in names if name.rsplit(":", 1)[0] == family),
                  key=lambda name: int(name.rsplit(":", 1)[1]))


def deployment_ids(sim: Any) -> set[str]:
    """The ids of every ECS deployment the simulator has seen so far (call right after a reset: the seeded ones)."""
    return {str(change["deployment_id"]) for change in sim.rollouts()}


def deployments_by_service(sim: Any, seeded: Collection[str] = ()) -> dict[str, list[str]]:
    """Per CLUSTER/SERVICE, the task definition (`family:revision`) of each ECS deployment created since the
    seeded ones, oldest first: one per UpdateService that forced a new deployment (ours and rollbacks)."""
    found: dict[str, list[str]] = {}
    seen: set[str] = set(seeded)
    for change in sim.rollouts():
        deployment = str(change["deployment_id"])
        if deployment in seen:
            continue
        seen.add(deployment)
        name = f"{change['cluster']}/{change['service']}"
        found.setdefault(name, []).append(str(change["task_definition"]).rsplit("/", 1)[-1])
    return found


def desired_count_of(sim: Any, cluster: str, service: str) -> int:
    described = sim.client("ecs").describe_services(cluster=cluster, services=[service])["services"][0]
    return int(described["desiredCount"])


def item_paths(document: dict[str, Any]) -> dict[str, list[str]]:
    """Per service (item), the states it went through, from the run's transitions: ['pending', 'planned', ...]."""
    paths: dict[str, list[str]] = {}
    for transition in document["transitions"]:
        item = transition.get("item")
        if item is None:
            continue
        path = paths.setdefault(item, [transition["source"]])
        assert path[-1] == transition["source"], (item, path, transition)
        path.append(transition["dest"])
    return paths


# A service holds a --max-parallel slot from its start (pending -> planned) until its deployment (or rollback)
# ended: in any state but these.
NOT_ROLLING = frozenset({"pending", "rolled_out", "succeeded", "rolled_back", "rollback_failed", "superseded",
                         "failed", "skipped"})


def most_rolling_at_once(document: dict[str, Any]) -> int:
    """Replaying the item transitions in order (seq): the most services rolling at one moment."""
    state: dict[str, str] = {}
    most = 0
    for transition in sorted(document["transitions"], key=lambda t: t["seq"]):
        if transition.get("item") is None:
            continue
        state[transition["item"]] = transition["dest"]
        most = max(most, sum(1 for s in state.values() if s not in NOT_ROLLING))
    return most
