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


Strategy = Literal["ROLLING", "BLUE_GREEN", "LINEAR", "CANARY"]
HookAction = Literal["ROLLBACK", "CONTINUE"]
DEFAULT_HOOK_FUNCTION = "arn:aws:lambda:{region}:{account}:function:ecsops-hook"
DEFAULT_HOOK_ROLE = "arn:aws:iam::{account}:role/ecsops-hook-role"


class LifecycleHookSpec(_Spec):
    """A deployment lifecycle hook; an AWS_LAMBDA hook without `hook_target_arn` gets a made-up function ARN."""

    target_type: Literal["AWS_LAMBDA", "PAUSE"] = "AWS_LAMBDA"
    hook_target_arn: str | None = None
    lifecycle_stages: list[str]
    timeout_minutes: int | None = None
    timeout_action: HookAction | None = None

    def definition(self, region: str, account: str) -> dict[str, Any]:
        hook: dict[str, Any] = {"targetType": self.target_type, "lifecycleStages": list(self.lifecycle_stages)}
        if self.target_type == "AWS_LAMBDA":
            hook["hookTargetArn"] = self.hook_target_arn or DEFAULT_HOOK_FUNCTION.format(region=region, account=account)
            hook["roleArn"] = DEFAULT_HOOK_ROLE.format(account=account)
        timeout: dict[str, Any] = {}
        if self.timeout_minutes is not None:
            timeout["timeoutInMinutes"] = self.timeout_minutes
        if self.timeout_action is not None:
            timeout["action"] = self.timeout_action
        if timeout:
            hook["timeoutConfiguration"] = timeout
        return hook


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
    strategy: Strategy = "ROLLING"
    bake_time_minutes: int | None = None
    linear_step_percent: float | None = None
    linear_step_bake_minutes: int | None = None
    canary_percent: float | None = None
    canary_bake_minutes: int | None = None
    lifecycle_hooks: list[LifecycleHookSpec] = Field(default_factory=list)
    alarms: list[str] = Field(default_factory=list)
    alarm_rollback: bool = True

    def deployment_configuration(self, region: str = "us-east-1", account: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
        """The API's DeploymentConfiguration; a ROLLING service with no strategy options emits what it always did."""
        configuration: dict[str, Any] = {
            "deploymentCircuitBreaker": {"enable": self.circuit_breaker, "rollback": self.rollback},
            "maximumPercent": self.maximum_percent,
            "minimumHealthyPercent": self.minimum_healthy_percent,
        }
        if self.strategy != "ROLLING":
            configuration["strategy"] = self.strategy
        if self.bake_time_minutes is not None:
            configuration["bakeTimeInMinutes"] = self.bake_time_minutes
        linear = {"stepPercent": self.linear_step_percent, "stepBakeTimeInMinutes": self.linear_step_bake_minutes}
        if any(v is not None for v in linear.values()):
            configuration["linearConfiguration"] = {k: v for k, v in linear.items() if v is not None}
        canary = {"canaryPercent": self.canary_percent, "canaryBakeTimeInMinutes": self.canary_bake_minutes}
        if any(v is not None for v in canary.values()):
            configuration["canaryConfiguration"] = {k: v for k, v in canary.items() if v is not None}
        if self.lifecycle_hooks:
            configuration["lifecycleHooks"] = [h.definition(region, account) for h in self.lifecycle_hooks]
        if self.alarms:
            configuration["alarms"] = {"alarmNames": list(self.alarms), "enable": True, "rollback": self.alarm_rollback}
        return configuration


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


class HookAnswer(_Spec):
    """The Lambda hook of `service` at `stage` answers `answer` after `after_seconds` (NEVER: it times out)."""

    service: str
    stage: str
    answer: Literal["SUCCEEDED", "FAILED", "NEVER"] = "FAILED"
    after_seconds: float = Field(default=10.0, ge=0.0)
    image: str | None = None


class AlarmBreach(_Spec):
    """`alarm` goes into ALARM `after_bake_seconds` into the BAKE_TIME of `service`'s deployment."""

    service: str
    alarm: str
    after_bake_seconds: float = Field(default=60.0, ge=0.0)
    image: str | None = None


class ForeignUpdate(_Spec):
    """Someone else's UpdateService (forceNewDeployment, the family's latest revision) arrives at `stage`."""

    service: str
    stage: str
    image: str | None = None


class StopSpec(_Spec):
    """Someone calls StopServiceDeployment(`stop_type`) when `service`'s deployment reaches `stage`."""

    service: str
    stage: str
    stop_type: Literal["ABORT", "ROLLBACK"] = "ROLLBACK"
    image: str | None = None


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
    # Service deployment events: each fires once, on the first service deployment of its service after seeding.
    hook_answers: list[HookAnswer] = Field(default_factory=list)
    alarm_breaches: list[AlarmBreach] = Field(default_factory=list)
    failing_rollbacks: list[str] = Field(default_factory=list, description="services whose rollback fails")
    foreign_updates: list[ForeignUpdate] = Field(default_factory=list)
    stops: list[StopSpec] = Field(default_factory=list)

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


def bluegreen_scenario() -> Scenario:
    """The demo plus services `bg` (BLUE_GREEN, 30-minute bake), `lin` (LINEAR 25 %, 2-minute steps, 5-minute
    bake) and `can` (CANARY 10 %, 5-minute canary bake, 5-minute bake) on cluster `demo`, each its own family
    with container `app` on nginx:1.25, desired 2; and cluster `batch` with ROLLING FARGATE services `api` and
    `worker` (same container, desired 2), for a fleet of several services."""
    scenario = demo_scenario()
    scenario.clusters.append(ClusterSpec(name="batch"))
    for name in ("api", "worker"):
        scenario.task_definitions.append(
            TaskDefinitionSpec(family=name, containers=[ContainerSpec(name="app", image="nginx:1.25")])
        )
        scenario.services.append(
            ServiceSpec(name=name, cluster="batch", task_definition=name, desired_count=2, launch_type="FARGATE")
        )
    options: dict[str, dict[str, Any]] = {
        "bg": {"strategy": "BLUE_GREEN", "bake_time_minutes": 30},  # breaker with rollback on all three, as on web
        "lin": {"strategy": "LINEAR", "linear_step_percent": 25.0, "linear_step_bake_minutes": 2,
                "bake_time_minutes": 5},
        "can": {"strategy": "CANARY", "canary_percent": 10.0, "canary_bake_minutes": 5, "bake_time_minutes": 5},
    }
    for name, extra in options.items():
        scenario.task_definitions.append(
            TaskDefinitionSpec(family=name, containers=[ContainerSpec(name="app", image="nginx:1.25")])
        )
        scenario.services.append(
            ServiceSpec(
                name=name, cluster="demo", task_definition=name, desired_count=2, circuit_breaker=True, rollback=True,
                **extra,
            )
        )
    return Scenario.model_validate(scenario.model_dump())


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
    if str(source) == "bluegreen":
        return bluegreen_scenario()
    return Scenario.model_validate(json.loads(Path(source).read_text()))
