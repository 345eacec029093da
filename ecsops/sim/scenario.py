"""Scenarios as data: the pydantic models of a simulated account, the built-in demo, and loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ecsops.sim.faults import FaultSpec

DEFAULT_ACCOUNT = "123456789012"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContainerSpec(_Spec):
    """One container definition; `extra` is merged verbatim into the ECS containerDefinition."""

    name: str
    image: str
    environment: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict, description="name -> valueFrom")
    log_configuration: dict[str, Any] | None = None
    container_port: int | None = None
    memory: int = 128
    essential: bool = True
    extra: dict[str, Any] = Field(default_factory=dict)

    def definition(self) -> dict[str, Any]:
        container: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "memory": self.memory,
            "essential": self.essential,
            "environment": [{"name": k, "value": v} for k, v in self.environment.items()],
        }
        if self.secrets:
            container["secrets"] = [{"name": k, "valueFrom": v} for k, v in self.secrets.items()]
        if self.log_configuration is not None:
            container["logConfiguration"] = self.log_configuration
        if self.container_port is not None:
            container["portMappings"] = [{"containerPort": self.container_port, "protocol": "tcp"}]
        container.update(self.extra)
        return container


class TaskDefinitionSpec(_Spec):
    """A task definition family; `extra` (volumes, runtimePlatform, taskRoleArn, ...) goes to RegisterTaskDefinition."""

    family: str
    containers: list[ContainerSpec]
    network_mode: str | None = None
    requires_compatibilities: list[str] | None = None
    cpu: str | None = None
    memory: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)

    def register_request(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "family": self.family,
            "containerDefinitions": [c.definition() for c in self.containers],
        }
        for key, value in (
            ("networkMode", self.network_mode),
            ("requiresCompatibilities", self.requires_compatibilities),
            ("cpu", self.cpu),
            ("memory", self.memory),
        ):
            if value is not None:
                request[key] = value
        if self.tags:
            request["tags"] = [{"key": k, "value": v} for k, v in self.tags.items()]
        request.update(self.extra)
        return request


class LoadBalancerSpec(_Spec):
    """The service's target group (created by seeding) and its deregistration delay."""

    target_group: str
    container_name: str
    container_port: int
    deregistration_delay: int = 30


class ServiceSpec(_Spec):
    name: str
    cluster: str
    task_definition: str = Field(description="family of a task definition in the scenario")
    desired_count: int = 1
    launch_type: Literal["EC2", "FARGATE"] = "EC2"
    circuit_breaker: bool = False
    rollback: bool = False
    minimum_healthy_percent: int = 100
    maximum_percent: int = 200
    load_balancer: LoadBalancerSpec | None = None

    def deployment_configuration(self) -> dict[str, Any]:
        return {
            "deploymentCircuitBreaker": {"enable": self.circuit_breaker, "rollback": self.rollback},
            "maximumPercent": self.maximum_percent,
            "minimumHealthyPercent": self.minimum_healthy_percent,
        }


class ClusterSpec(_Spec):
    """A cluster; `container_instances` standalone EC2 instances join it (ASGs can add more)."""

    name: str
    container_instances: int = 0
    fargate: bool = False
    max_tasks_per_instance: int = 4
    instance_type: str = "t3.medium"


class AsgSpec(_Spec):
    """An Auto Scaling group whose instances join `cluster` after the boot delay.

    `out_of_date` instances are launched with the old launch configuration / launch template version 1;
    the group then moves to the current one (launch configuration `<name>-v2`, template version 2).
    """

    name: str
    cluster: str | None = None
    launch: Literal["launch_configuration", "launch_template", "mixed_instances"] = "launch_template"
    desired_capacity: int = 2
    min_size: int = 0
    max_size: int | None = None
    out_of_date: int = 0
    instance_type: str = "t3.medium"

    @model_validator(mode="after")
    def _sizes(self) -> AsgSpec:
        if self.out_of_date > self.desired_capacity:
            raise ValueError("out_of_date cannot exceed desired_capacity")
        if self.max_size is not None and self.max_size < self.desired_capacity:
            raise ValueError("max_size is below desired_capacity")
        return self

    @property
    def effective_max_size(self) -> int:
        return self.max_size if self.max_size is not None else self.desired_capacity * 2


class ImageFailure(_Spec):
    """Tasks whose containers use `image` stop before they run, as ECS reports such tasks.

    `pull`: CannotPullContainerError (the image does not exist); `secrets`: ResourceInitializationError
    (a secret or the registry auth cannot be fetched); `exit`: the essential container exits with
    `exit_code` as it starts. Each such task counts in its deployment's failedTasks.
    """

    image: str
    kind: Literal["pull", "secrets", "exit"] = "pull"
    exit_code: int = 1


class PlacementOutage(_Spec):
    """For `seconds` after the first UpdateService since seeding, no new task of `cluster` can be placed:
    ECS says "was unable to place a task" and keeps trying (capacity arriving late). Nothing counts as
    failed, and the circuit breaker does not trip, as in ECS."""

    cluster: str
    seconds: float = Field(gt=0.0)


class Scenario(_Spec):
    """A whole simulated account. Times are virtual seconds."""

    region: str = "us-east-1"
    account: str = DEFAULT_ACCOUNT
    tick_seconds: float = Field(default=5.0, ge=0.0, description="virtual time each ECS/ASG/ELB Describe/List adds")
    task_start_seconds: float = Field(default=10.0, gt=0.0)
    task_stop_seconds: float = Field(default=5.0, ge=0.0)
    drain_seconds: float = Field(default=10.0, ge=0.0, description="stop time of a task on a DRAINING instance")
    boot_seconds: float = Field(default=60.0, ge=0.0, description="instance launch to ECS agent registration")
    target_healthy_seconds: float = Field(default=5.0, ge=0.0, description="target 'initial' to 'healthy'")
    clusters: list[ClusterSpec] = Field(default_factory=list)
    task_definitions: list[TaskDefinitionSpec] = Field(default_factory=list)
    services: list[ServiceSpec] = Field(default_factory=list)
    asgs: list[AsgSpec] = Field(default_factory=list)
    failing_images: list[str] = Field(default_factory=list, description="images that cannot be pulled")
    image_failures: list[ImageFailure] = Field(default_factory=list)
    placement_outages: list[PlacementOutage] = Field(default_factory=list)
    stuck_services: list[str] = Field(default_factory=list, description="tasks started after seeding never run")
    faults: list[FaultSpec] = Field(default_factory=list)
    fault_seed: int = 0

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        if self.account != DEFAULT_ACCOUNT:
            raise ValueError(f"only moto's default account {DEFAULT_ACCOUNT} is supported")
        clusters = {c.name for c in self.clusters}
        families = {t.family for t in self.task_definitions}
        for service in self.services:
            if service.cluster not in clusters:
                raise ValueError(f"service {service.name}: unknown cluster {service.cluster}")
            if service.task_definition not in families:
                raise ValueError(f"service {service.name}: unknown task definition {service.task_definition}")
        for asg in self.asgs:
            if asg.cluster is not None and asg.cluster not in clusters:
                raise ValueError(f"asg {asg.name}: unknown cluster {asg.cluster}")
        for outage in self.placement_outages:
            if outage.cluster not in clusters:
                raise ValueError(f"placement outage: unknown cluster {outage.cluster}")
        return self


def demo_scenario() -> Scenario:
    """Cluster `demo`; service `web` (family `web`, container `app`, nginx:1.25) behind target group `web-tg`,
    circuit breaker with rollback, desired 2; ASG `demo-asg` with 3 instances, 1 on launch template version 1
    (out of date); `nginx:broken` never starts."""
    return Scenario(
        clusters=[ClusterSpec(name="demo")],
        task_definitions=[
            TaskDefinitionSpec(
                family="web",
                containers=[
                    ContainerSpec(
                        name="app",
                        image="nginx:1.25",
                        environment={"GREETING": "hello"},
                        log_configuration={
                            "logDriver": "awslogs",
                            "options": {
                                "awslogs-group": "/ecs/web",
                                "awslogs-region": "us-east-1",
                                "awslogs-stream-prefix": "web",
                            },
                        },
                        container_port=80,
                    )
                ],
                tags={"app": "web"},
            )
        ],
        services=[
            ServiceSpec(
                name="web",
                cluster="demo",
                task_definition="web",
                desired_count=2,
                circuit_breaker=True,
                rollback=True,
                load_balancer=LoadBalancerSpec(
                    target_group="web-tg", container_name="app", container_port=80, deregistration_delay=20
                ),
            )
        ],
        asgs=[AsgSpec(name="demo-asg", cluster="demo", desired_capacity=3, max_size=6, out_of_date=1)],
        failing_images=["nginx:broken"],
    )


def load_scenario(source: Scenario | dict[str, Any] | str | Path | None) -> Scenario:
    """Accept a Scenario, a dict, None (empty account), "demo", or the path of a JSON file."""
    if source is None:
        return Scenario()
    if isinstance(source, Scenario):
        return source
    if isinstance(source, dict):
        if set(source) == {"scenario"}:
            return load_scenario(source["scenario"])
        return Scenario.model_validate(source)
    if str(source) == "demo":
        return demo_scenario()
    return Scenario.model_validate(json.loads(Path(source).read_text()))
