"""Helpers for the replace-instances tests: scenarios, the CLI call, and a capacity watch inside the simulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli_helpers import Result, run_ecsops

from ecsops.sim.scenario import AsgSpec, ClusterSpec, ContainerSpec, Scenario, ServiceSpec, TaskDefinitionSpec
from ecsops.sim.server import SimServer


def fleet_scenario(
    *,
    instances: int = 2,
    out_of_date: int = 2,
    launch: str = "launch_template",
    service_tasks: int = 2,
    stuck: bool = False,
    max_size: int | None = None,
) -> Scenario:
    """Cluster `prod`, ASG `prod-asg` with `instances` instances (`out_of_date` of them old), service `api`."""
    return Scenario(
        clusters=[ClusterSpec(name="prod", max_tasks_per_instance=4)],
        task_definitions=[
            TaskDefinitionSpec(family="api", containers=[ContainerSpec(name="app", image="nginx:1.25")])
        ],
        services=[ServiceSpec(name="api", cluster="prod", task_definition="api", desired_count=service_tasks)],
        asgs=[
            AsgSpec(
                name="prod-asg",
                cluster="prod",
                launch=launch,  # type: ignore[arg-type]
                desired_capacity=instances,
                max_size=instances * 3 if max_size is None else max_size,
                out_of_date=out_of_date,
            )
        ],
        stuck_services=["api"] if stuck else [],
    )


def replace(store: Path, *args: str, **env: str) -> Result:
    return run_ecsops(
        store, "replace-instances", "--asg", "prod-asg", "--cluster", "prod", "--poll-interval", "0",
        "--output", "json", *args, **env,
    )


def mutations(sim: SimServer) -> dict[str, int]:
    return sim.mutating_calls()


def container_instance_in_sim(sim: SimServer, cluster: str, ec2_instance_id: str) -> Any:
    """The moto container instance of an EC2 instance, read inside the simulator (safe from a request hook)."""
    from moto.ecs.models import ecs_backends

    scenario = sim.scenario
    instances = ecs_backends[scenario.account][scenario.region].container_instances.get(cluster, {})
    return next((ci for ci in instances.values() if ci.ec2_instance_id == ec2_instance_id), None)


@dataclass
class CapacityWatch:
    """Samples the cluster inside the simulator after every model step (every event, every API call)."""

    sim: SimServer
    cluster: str
    samples: list[tuple[int, dict[str, tuple[int, int]]]] = field(default_factory=list)

    def install(self) -> CapacityWatch:
        model = self.sim.model
        original = model.observe

        def observe() -> None:
            original()
            self.samples.append(self.sample())

        model.observe = observe
        return self

    def sample(self) -> tuple[int, dict[str, tuple[int, int]]]:
        from moto.ec2.models import ec2_backends
        from moto.ecs.models import ecs_backends

        scenario = self.sim.scenario
        ecs: Any = ecs_backends[scenario.account][scenario.region]
        ec2: Any = ec2_backends[scenario.account][scenario.region]
        active = 0
        for container_instance in ecs.container_instances.get(self.cluster, {}).values():
            instance = ec2.get_instance_by_id(container_instance.ec2_instance_id)
            running = instance is not None and instance.state == "running"
            if container_instance.status == "ACTIVE" and container_instance.agent_connected and running:
                active += 1
        services = {
            service.name: (int(service.running_count), int(service.desired_count))
            for key, service in ecs.services.items()
            if key.startswith(f"{self.cluster}:")
        }
        return active, services

    def lowest_active(self) -> int:
        return min(active for active, _ in self.samples)

    def services_below_desired(self) -> list[dict[str, tuple[int, int]]]:
        return [s for _, s in self.samples if any(running < desired for running, desired in s.values())]
