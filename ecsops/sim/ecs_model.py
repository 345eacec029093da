"""ECS service scheduler model: deployments, rolling replacement, circuit breaker, rollback, service events."""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from moto.ecs.models import ecs_backends

from ecsops.sim.clock import VirtualClock
from ecsops.sim.ecs_tasks import ModelTask, StartFailure, TaskRunner

if TYPE_CHECKING:
    from ecsops.sim.strategies import StrategyRunner

MAX_EVENTS = 100
DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


def circuit_breaker_threshold(desired_count: int) -> int:
    """ECS's failed-task threshold: min(200, max(3, ceil(desired / 2)))."""
    return min(200, max(3, math.ceil(desired_count / 2)))


@dataclass
class Deployment:
    id: str
    task_definition: str
    status: str
    created_at: float
    updated_at: float
    launch_type: str
    desired_count: int = 0
    rollout_state: str = "IN_PROGRESS"
    rollout_state_reason: str = ""
    failed_tasks: int = 0
    warned_unstable: bool = False
    signature: tuple[int, int, int, int] = (0, 0, 0, 0)
    strategy: str = "ROLLING"


@dataclass
class ServiceState:
    cluster: str
    name: str
    deployments: list[Deployment]
    last_completed: Deployment | None = None
    steady: bool = False

    @property
    def key(self) -> str:
        return f"{self.cluster}:{self.name}"

    @property
    def primary(self) -> Deployment:
        return self.deployments[0]


@dataclass
class EcsModel:
    """Drives moto's ECS services over virtual time; renders its state back onto moto's Service objects."""

    clock: VirtualClock
    account: str
    region: str
    runner: TaskRunner
    start_failures: dict[str, StartFailure]
    stuck_services: set[str]
    stuck_from: float = float("inf")
    # cluster -> seconds without placement from the first UpdateService after seeding, and when that ends
    placement_outages: dict[str, float] = field(default_factory=dict)
    outage_until: dict[str, float] = field(default_factory=dict)
    services: dict[str, ServiceState] = field(default_factory=dict)
    # service deployments and the BLUE_GREEN/LINEAR/CANARY walk (set by SimModel.build)
    strategies: StrategyRunner | None = None
    _ids: random.Random = field(default_factory=lambda: random.Random(0))

    def backend(self) -> Any:
        return ecs_backends[self.account][self.region]

    # --- API hooks -------------------------------------------------------------------------------------

    def on_create_service(self, service: Any, deployment_configuration: dict[str, Any] | None) -> None:
        """CreateService: keep deploymentConfiguration (moto drops it) and start the first deployment."""
        service.deployment_configuration = _with_defaults(deployment_configuration)
        if service.deployment_controller.get("type", "ECS") != "ECS" or service.task_definition is None:
            return
        state = ServiceState(
            service.cluster_name, service.name, [self._new_deployment(service, service.task_definition)]
        )
        self.services[state.key] = state
        if self.strategies is not None:
            self.strategies.started(state, service, state.primary)
        self._render(state)

    def on_update_service(self, service: Any, params: dict[str, Any]) -> None:
        """UpdateService: a new task definition or force makes a new PRIMARY; the previous one turns ACTIVE."""
        state = self.services.get(f"{service.cluster_name}:{service.name}")
        if state is None:
            return
        if params.get("deploymentConfiguration") is not None:
            service.deployment_configuration = _with_defaults(params["deploymentConfiguration"])
        task_definition = state.primary.task_definition
        if params.get("taskDefinition"):
            task_definition = self.backend().describe_task_definition(params["taskDefinition"]).arn
        if task_definition != state.primary.task_definition or params.get("forceNewDeployment"):
            self._push_deployment(state, service, task_definition)
        outage = self.placement_outages.get(state.cluster)
        if outage is not None and state.cluster not in self.outage_until and self.clock.now() >= self.stuck_from:
            self.outage_until[state.cluster] = self.clock.now() + outage
        state.primary.desired_count = service.desired_count
        state.steady = state.steady and len(state.deployments) == 1
        self._render(state)

    def on_stop_task(self, task_arn: str, reason: str) -> Any | None:
        model_task = self.runner.tasks.get(task_arn)
        if model_task is None:
            return None
        self.runner.stop(model_task, reason or "Task stopped by user", "UserInitiated")
        return model_task.task

    def on_instance_lost(self, cluster: str, container_instance_id: str, ec2_instance_id: str) -> None:
        """The EC2 instance is gone: its tasks stop at once and its container instance deregisters."""
        for model_task in list(self.runner.tasks.values()):
            if model_task.container_instance_id == container_instance_id and model_task.state != "STOPPED":
                self.runner.kill(model_task, f"Host EC2 (instance {ec2_instance_id}) terminated.", "TerminationNotice")
        self.runner.recount()
        backend = self.backend()
        if container_instance_id in backend.container_instances.get(cluster, {}):
            backend.deregister_container_instance(cluster, container_instance_id, True)
            backend.container_instances.get("orphaned", {}).pop(container_instance_id, None)

    def on_container_instance_deregistered(self, container_instance_id: str) -> None:
        for model_task in list(self.runner.tasks.values()):
            if model_task.container_instance_id == container_instance_id and model_task.state != "STOPPED":
                self.runner.kill(model_task, "Container instance deregistered.", "TaskFailedToStart")

    def foreign_update(self, state: ServiceState) -> None:
        """Someone else's UpdateService(forceNewDeployment) with the family's latest task definition revision."""
        service = self.backend().services.get(state.key)
        if service is None:
            return
        backend = self.backend()
        family = backend.describe_task_definition(state.primary.task_definition).family
        self._push_deployment(state, service, backend.describe_task_definition(family).arn)
        state.primary.desired_count = int(service.desired_count)
        self._render(state)

    def revert_to(self, state: ServiceState, deployment_ids: list[str]) -> Deployment | None:
        """A native-strategy rollback: the newest still-listed source ecs-svc deployment is PRIMARY again (no new
        deployment); the scheduler then stops the target's tasks as it stops any old deployment's.
        inferred: AWS documents the rollback's statuses, not which ecs-svc deployment carries it."""
        service = self.backend().services.get(state.key)
        source = next((d for d in state.deployments[1:] if d.id in deployment_ids), None)
        if service is None:
            return None
        if source is None:
            return self.rollback_rolling(state)
        state.deployments.remove(source)
        for other in state.deployments:
            other.status = "ACTIVE"
        source.status = "PRIMARY"
        source.updated_at = self.clock.now()
        state.deployments.insert(0, source)
        state.steady = False
        service.task_definition = source.task_definition
        return source

    def rollback_rolling(self, state: ServiceState | None) -> Deployment | None:
        """ECS's own rollback of a rolling deployment: a new deployment of the last completed task definition."""
        service = self.backend().services.get(state.key) if state is not None else None
        target = state.last_completed if state is not None else None
        if state is None or service is None or target is None:
            return None
        if target.task_definition == state.primary.task_definition:
            return None
        rollback = self._push_deployment(state, service, target.task_definition, rollback=True)
        rollback.strategy = "ROLLING"
        return rollback

    # --- time --------------------------------------------------------------------------------------------

    def step(self) -> None:
        started, failed = self.runner.advance()
        for model_task in failed:
            deployment = self._deployment_of(model_task)
            if deployment is not None:
                deployment.failed_tasks += 1
        self._started_events(started)
        for state in list(self.services.values()):
            self._schedule(state)
        if self.strategies is not None and self.strategies.step():
            for state in list(self.services.values()):
                self._schedule(state)
        self.runner.recount()
        for state in self.services.values():
            self._render(state)

    def next_due(self) -> float | None:
        due = [self.runner.next_due(), self.strategies.next_due() if self.strategies is not None else None]
        return min((d for d in due if d is not None), default=None)

    # --- scheduler ---------------------------------------------------------------------------------------

    def _schedule(self, state: ServiceState) -> None:
        service = self.backend().services.get(state.key)
        if service is None:
            del self.services[state.key]
            return
        if service.status != "ACTIVE":
            for model_task in self._live(state):
                self.runner.stop(model_task, "Service deleted", "ServiceSchedulerInitiated")
            return
        config = service.deployment_configuration
        desired = int(service.desired_count)
        state.primary.desired_count = desired
        for _ in range(3):
            acted = self._scale_in(state, desired)
            acted = self._stop_replaced(state, desired, config) or acted
            acted = self._start(state, service, desired, config) or acted
            if not acted:
                break
        self._circuit_breaker(state, service, desired, config)
        self._settle(state, desired)

    def _live(self, state: ServiceState) -> list[ModelTask]:
        return [t for t in self.runner.tasks.values() if t.service_key == state.key and not t.stopping]

    def _draining_instances(self, cluster: str) -> set[str]:
        instances = self.backend().container_instances.get(cluster, {})
        return {ci_id for ci_id, ci in instances.items() if ci.status == "DRAINING"}

    def _scale_in(self, state: ServiceState, desired: int) -> bool:
        draining = self._draining_instances(state.cluster)
        primary = [
            t
            for t in self._live(state)
            if t.deployment_id == state.primary.id and t.container_instance_id not in draining
        ]
        excess = len(primary) - desired
        if excess <= 0:
            return False
        victims = sorted(primary, key=lambda t: (t.state == "RUNNING", -t.task.created_at.timestamp()))[:excess]
        self._stop_tasks(state, victims, f"Scaling activity initiated by (deployment {state.primary.id})")
        return True

    def _stop_replaced(self, state: ServiceState, desired: int, config: dict[str, Any]) -> bool:
        """Stop old-deployment tasks and tasks on DRAINING instances while min healthy percent allows."""
        draining = self._draining_instances(state.cluster)
        live = self._live(state)
        min_healthy = math.ceil(desired * int(config.get("minimumHealthyPercent", 100)) / 100)
        healthy = sum(1 for t in live if t.state == "RUNNING")
        held = self.strategies.holds(state.key) if self.strategies is not None else set()
        candidates = [
            t
            for t in live
            if (t.deployment_id != state.primary.id and t.deployment_id not in held)
            or t.container_instance_id in draining
        ]
        candidates.sort(key=lambda t: (t.state == "RUNNING", t.task.created_at.timestamp()))
        replaced: list[ModelTask] = []
        drained: list[ModelTask] = []
        for model_task in candidates:
            if model_task.state == "RUNNING":
                if healthy - 1 < min_healthy:
                    break
                healthy -= 1
            (drained if model_task.container_instance_id in draining else replaced).append(model_task)
        if replaced:
            self._stop_tasks(state, replaced, f"Task stopped by ECS deployment {state.primary.id}")
        if drained:
            self._event(state, f"(service {state.name}) has begun draining connections on {len(drained)} tasks.")
            self._stop_tasks(state, drained, "Container instance is draining", draining=True)
        return bool(replaced or drained)

    def _start(self, state: ServiceState, service: Any, desired: int, config: dict[str, Any]) -> bool:
        draining = self._draining_instances(state.cluster)
        live = self._live(state)
        primary = [t for t in live if t.deployment_id == state.primary.id and t.container_instance_id not in draining]
        max_total = math.floor(desired * int(config.get("maximumPercent", 200)) / 100)
        if self.strategies is not None:
            if self.strategies.blocks_scale_up(state.key):
                return False
            # documented: a native strategy scales the green revision to 100 % beside the blue one
            held = self.strategies.holds(state.key)
            max_total = max(max_total, desired + sum(1 for t in live if t.deployment_id in held))
        count = min(desired - len(primary), max_total - len(live))
        if count <= 0:
            return False
        task_definition = self.backend().describe_task_definition(state.primary.task_definition)
        images = [c.get("image") for c in task_definition.container_definitions]
        failure = next((self.start_failures[i] for i in images if i in self.start_failures), None)
        stuck = state.name in self.stuck_services and self.clock.now() >= self.stuck_from
        fargate = (service.launch_type or "EC2") == "FARGATE"
        no_capacity = self.clock.now() < self.outage_until.get(state.cluster, float("-inf"))
        started: list[ModelTask] = []
        for _ in range(count):
            # No capacity (yet): ECS says so in an event and keeps trying; nothing counts as a failed task.
            placement = None if no_capacity else self.runner.place(state.cluster, fargate)
            if placement is None:
                self._event(
                    state,
                    f"(service {state.name}) was unable to place a task because no container instance met all "
                    "of its requirements. Reason: No Container Instances were found in your cluster.",
                    dedupe=True,
                )
                break
            started.append(self.runner.start(service, task_definition, state.primary.id, placement, failure, stuck))
        if started:
            tasks = " ".join(f"(task {t.short_id})" for t in started)
            self._event(state, f"(service {state.name}) has started {len(started)} tasks: {tasks}.")
        return bool(started)

    def _circuit_breaker(self, state: ServiceState, service: Any, desired: int, config: dict[str, Any]) -> None:
        primary = state.primary
        if primary.rollout_state != "IN_PROGRESS" or primary.failed_tasks < circuit_breaker_threshold(desired):
            return
        if not primary.warned_unstable:
            primary.warned_unstable = True
            self._event(
                state,
                f"(service {state.name}) is unable to consistently start tasks successfully. For more information, "
                "see the Troubleshooting section of the Amazon ECS Developer Guide.",
            )
        breaker = config.get("deploymentCircuitBreaker") or {}
        if not breaker.get("enable") or primary.strategy != "ROLLING":
            return  # a native strategy's breaker is the service deployment's (strategies.py)
        primary.rollout_state = "FAILED"
        primary.rollout_state_reason = "ECS deployment circuit breaker: tasks failed to start."
        primary.updated_at = self.clock.now()
        self._event(state, f"(service {state.name}) deployment {primary.id} deployment failed: tasks failed to start.")
        target = state.last_completed
        rollback = None
        if breaker.get("rollback") and target is not None and target.task_definition != primary.task_definition:
            self._event(state, f"(service {state.name}) rolling back to deployment {target.id}.")
            rollback = self._push_deployment(state, service, target.task_definition, rollback=True)
            rollback.rollout_state_reason = f"ECS deployment circuit breaker: rolling back to deploymentId {target.id}."
            service.task_definition = target.task_definition
        if self.strategies is not None:
            self.strategies.rolling_failed(state, primary, rollback)

    def _settle(self, state: ServiceState, desired: int) -> None:
        """Drop drained old deployments; mark the primary COMPLETED and the service steady when they are."""
        tasks = [t for t in self.runner.tasks.values() if t.service_key == state.key and t.state != "STOPPED"]
        with_tasks = {t.deployment_id for t in tasks}
        primary = state.primary
        # A FAILED deployment stays listed until the deployment that replaced it completes, as in ECS.
        state.deployments = [primary] + [
            d
            for d in state.deployments[1:]
            if d.id in with_tasks or (d.rollout_state == "FAILED" and primary.rollout_state == "IN_PROGRESS")
        ]
        draining = self._draining_instances(state.cluster)
        running = [t for t in tasks if t.deployment_id == primary.id and t.state == "RUNNING" and not t.stopping]
        others = [t for t in tasks if t.deployment_id != primary.id or t.stopping or t.state != "RUNNING"]
        on_draining = [t for t in running if t.container_instance_id in draining]
        drained = all(d.id not in with_tasks for d in state.deployments[1:])
        done = drained and len(running) == desired and not others and not on_draining
        if done and primary.rollout_state == "IN_PROGRESS":
            primary.rollout_state = "COMPLETED"
            primary.rollout_state_reason = f"ECS deployment {primary.id} completed."
            primary.updated_at = self.clock.now()
            state.last_completed = primary
            self._event(state, f"(service {state.name}) deployment {primary.id} deployment completed.")
        if done and primary.rollout_state == "COMPLETED" and state.last_completed is None:
            state.last_completed = primary
        if done:
            state.deployments = [primary]
        if done and not state.steady:
            self._event(state, f"(service {state.name}) has reached a steady state.")
        state.steady = done

    # --- helpers -----------------------------------------------------------------------------------------

    def _new_deployment(self, service: Any, task_definition: str) -> Deployment:
        now = self.clock.now()
        deployment_id = f"ecs-svc/{self._ids.randint(10**18, 10**19 - 1)}"
        return Deployment(
            id=deployment_id,
            task_definition=task_definition,
            status="PRIMARY",
            created_at=now,
            updated_at=now,
            launch_type=service.launch_type or "EC2",
            desired_count=int(service.desired_count),
            rollout_state_reason=f"ECS deployment {deployment_id} in progress.",
            strategy=str((service.deployment_configuration or {}).get("strategy") or "ROLLING"),
        )

    def _push_deployment(
        self, state: ServiceState, service: Any, task_definition: str, rollback: bool = False
    ) -> Deployment:
        """A new PRIMARY ecs-svc deployment; unless it is ECS's own rollback, it starts a new service deployment."""
        deployment = self._new_deployment(service, task_definition)
        for old in state.deployments:
            old.status = "ACTIVE"
            old.updated_at = deployment.created_at
        state.deployments.insert(0, deployment)
        state.steady = False
        service.task_definition = task_definition
        if self.strategies is not None and not rollback:
            self.strategies.started(state, service, deployment)
        return deployment

    def _deployment_of(self, model_task: ModelTask) -> Deployment | None:
        state = self.services.get(model_task.service_key)
        if state is None:
            return None
        return next((d for d in state.deployments if d.id == model_task.deployment_id), None)

    def _stop_tasks(self, state: ServiceState, tasks: list[ModelTask], reason: str, draining: bool = False) -> None:
        running = [t for t in tasks if t.state == "RUNNING"]
        for model_task in tasks:
            self.runner.stop(model_task, reason, "ServiceSchedulerInitiated", draining=draining)
        if running:
            ids = " ".join(f"(task {t.short_id})" for t in running)
            self._event(state, f"(service {state.name}) has stopped {len(running)} running tasks: {ids}.")
            groups = sorted({ref.target_group_arn for t in running for ref in t.targets})
            for group in groups:
                count = sum(1 for t in running for ref in t.targets if ref.target_group_arn == group)
                self._event(state, f"(service {state.name}) deregistered {count} targets in (target-group {group})")

    def _started_events(self, started: list[ModelTask]) -> None:
        for model_task in started:
            state = self.services.get(model_task.service_key)
            if state is None:
                continue
            for ref in model_task.targets:
                self._event(
                    state, f"(service {state.name}) registered 1 targets in (target-group {ref.target_group_arn})"
                )

    def _event(self, state: ServiceState, message: str, dedupe: bool = False) -> None:
        service = self.backend().services.get(state.key)
        if service is None:
            return
        if dedupe and service.events and service.events[0]["message"] == message:
            return
        event = {"id": str(uuid.uuid4()), "createdAt": self.clock.as_datetime(), "message": message}
        service.events = [event, *service.events][:MAX_EVENTS]

    def _render(self, state: ServiceState) -> None:
        """Write the model's state onto moto's Service so every ECS response shows it."""
        service = self.backend().services.get(state.key)
        if service is None:
            return
        live = self._live(state)
        rendered = []
        for deployment in state.deployments:
            running = sum(1 for t in live if t.deployment_id == deployment.id and t.state == "RUNNING")
            pending = sum(1 for t in live if t.deployment_id == deployment.id and t.state != "RUNNING")
            if deployment.status != "PRIMARY":
                deployment.desired_count = running + pending
            signature = (deployment.desired_count, running, pending, deployment.failed_tasks)
            if signature != deployment.signature:
                deployment.signature = signature
                deployment.updated_at = self.clock.now()
            rendered.append(self._rendered_deployment(service, deployment, running, pending))
        service.deployments = rendered
        service.running_count = sum(1 for t in live if t.state == "RUNNING")
        service.pending_count = sum(1 for t in live if t.state != "RUNNING")
        service.task_definition = state.primary.task_definition
        if self.strategies is not None:
            service.current_service_deployment = self.strategies.book.current_arn(state.key, self.clock.now())

    def _rendered_deployment(self, service: Any, deployment: Deployment, running: int, pending: int) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "id": deployment.id,
            "status": deployment.status,
            "taskDefinition": deployment.task_definition,
            "desiredCount": deployment.desired_count,
            "pendingCount": pending,
            "runningCount": running,
            "failedTasks": deployment.failed_tasks,
            "createdAt": self.clock.as_datetime(deployment.created_at),
            "updatedAt": self.clock.as_datetime(deployment.updated_at),
            "launchType": deployment.launch_type,
            "rolloutState": deployment.rollout_state,
            "rolloutStateReason": deployment.rollout_state_reason,
            "networkConfiguration": service.network_configuration or None,
        }
        if deployment.strategy != "ROLLING":
            # documented: rolloutState is "only returned for services that use the rolling update (ECS) deployment
            # type"; so is its reason (inferred)
            del rendered["rolloutState"], rendered["rolloutStateReason"]
        return rendered


def _with_defaults(configuration: dict[str, Any] | None) -> dict[str, Any]:
    merged = {**DEFAULT_DEPLOYMENT_CONFIGURATION, **(configuration or {})}
    breaker = merged.get("deploymentCircuitBreaker") or {}
    merged["deploymentCircuitBreaker"] = {
        "enable": bool(breaker.get("enable")),
        "rollback": bool(breaker.get("rollback")),
    }
    return merged
