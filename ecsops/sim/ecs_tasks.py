"""ECS task lifecycle: placing service and one-off tasks on container instances and moving them through states."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from moto.ec2.models import ec2_backends
from moto.ecs.models import Task, ecs_backends

from ecsops.sim.clock import VirtualClock
from ecsops.sim.elb_model import ElbModel, TargetRef

INF = float("inf")
STOPPED_TASK_RETENTION = 3600.0
NO_RESOURCES: dict[str, Any] = {"CPU": 0, "MEMORY": 0, "PORTS": [], "PORTS_UDP": []}
RUNNING_LIKE = ("RUNNING", "DEACTIVATING", "STOPPING")


@dataclass(frozen=True)
class StartFailure:
    """How a task of a bad image ends before it runs, as ECS reports it on the stopped task.

    kind `pull`: CannotPullContainerError (stopCode TaskFailedToStart, the container has no exit code);
    `secrets`: ResourceInitializationError while fetching secrets or registry auth (TaskFailedToStart);
    `exit`: the essential container exits with `exit_code` as it starts (EssentialContainerExited).
    """

    kind: str = "pull"
    exit_code: int = 1

    def stop_code(self) -> str:
        return "EssentialContainerExited" if self.kind == "exit" else "TaskFailedToStart"

    def stopped_reason(self, image: str) -> str:
        if self.kind == "exit":
            return "Essential container in task exited"
        if self.kind == "secrets":
            return (
                "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
                "retrieval failed: unable to retrieve secret from asm: ResourceNotFoundException: Secrets "
                "Manager can't find the specified secret."
            )
        return (
            f"CannotPullContainerError: pull image manifest has been retried 1 time(s): "
            f"failed to resolve ref {image}: not found"
        )


@dataclass
class TaskTiming:
    start_seconds: float
    stop_seconds: float
    drain_seconds: float


@dataclass
class ModelTask:
    """The model's view of one service task; `task` is the moto Task that the API returns."""

    task: Any
    cluster: str
    service_key: str
    deployment_id: str
    container_instance_id: str | None
    failure: StartFailure | None
    stuck: bool
    targets: list[TargetRef] = field(default_factory=list)
    state: str = "PENDING"
    due: float = INF
    stopping: bool = False
    stop_seconds: float = 0.0
    # A one-off task's essential container exits this long after it starts running; service tasks run on.
    run_seconds: float | None = None

    @property
    def failing(self) -> bool:
        return self.failure is not None

    @property
    def arn(self) -> str:
        return str(self.task.task_arn)

    @property
    def short_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]


@dataclass
class Placement:
    container_instance: Any | None
    host_port: int | None


@dataclass
class TaskRunner:
    """Creates moto Task objects for services and advances them; knows nothing of deployments."""

    clock: VirtualClock
    account: str
    region: str
    timing: TaskTiming
    elb: ElbModel
    max_tasks_per_instance: dict[str, int]
    tasks: dict[str, ModelTask] = field(default_factory=dict)
    _ports: Any = field(default_factory=lambda: itertools.count(32768))

    def backend(self) -> Any:
        return ecs_backends[self.account][self.region]

    def place(self, cluster: str, fargate: bool) -> Placement | None:
        """Spread over ACTIVE container instances whose EC2 instance runs; None when the cluster is full."""
        if fargate:
            return Placement(None, None)
        ec2 = ec2_backends[self.account][self.region]
        limit = self.max_tasks_per_instance.get(cluster, 4)
        best: tuple[int, Any] | None = None
        for container_instance in self.backend().container_instances.get(cluster, {}).values():
            if container_instance.status != "ACTIVE" or not container_instance.agent_connected:
                continue
            instance = ec2.get_instance_by_id(container_instance.ec2_instance_id)
            if instance is None or instance.state != "running":
                continue
            load = sum(
                1
                for t in self.tasks.values()
                if t.container_instance_id == container_instance.id and t.state != "STOPPED"
            )
            if load < limit and (best is None or load < best[0]):
                best = (load, container_instance)
        if best is None:
            return None
        return Placement(best[1], next(self._ports))

    def start(
        self,
        service: Any,
        task_definition: Any,
        deployment_id: str,
        placement: Placement,
        failure: StartFailure | None,
        stuck: bool,
    ) -> ModelTask:
        backend = self.backend()
        cluster = backend.clusters[service.cluster_name]
        container_instance = placement.container_instance
        awsvpc = task_definition.network_mode == "awsvpc"
        task: Any = Task(
            cluster,
            task_definition,
            container_instance.container_instance_arn if container_instance else None,
            dict(NO_RESOURCES),
            backend=backend,
            group=f"service:{service.name}",
            launch_type=service.launch_type or "EC2",
            started_by=deployment_id,
            networking_configuration=service.network_configuration if awsvpc else None,
            platform_version=service.platform_version,
        )
        _pending(task, self.clock.as_datetime())
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        model_task = ModelTask(
            task=task,
            cluster=cluster.name,
            service_key=f"{cluster.name}:{service.name}",
            deployment_id=deployment_id,
            container_instance_id=container_instance.id if container_instance else None,
            failure=failure,
            stuck=stuck,
            due=INF if stuck and failure is None else self.clock.now() + self.timing.start_seconds,
        )
        model_task.targets = self._targets(service, task_definition, model_task, container_instance, placement, awsvpc)
        self.tasks[model_task.arn] = model_task
        return model_task

    def start_one_off(self, cluster: str, container_instance_arn: str, family: str, run_seconds: float) -> ModelTask:
        """StartTask of `family` on one container instance; it exits by itself after `run_seconds` of running.

        Not a service task: no scheduler replaces or stops it, and draining its instance does not stop it (ECS
        leaves standalone tasks alone when an instance drains).
        """
        backend = self.backend()
        task_definition = backend.describe_task_definition(family)
        container_instance = backend.container_instances[cluster][container_instance_arn.rsplit("/", 1)[-1]]
        task: Any = Task(
            backend.clusters[cluster],
            task_definition,
            container_instance.container_instance_arn,
            dict(NO_RESOURCES),
            backend=backend,
            group=f"family:{task_definition.family}",
            launch_type="EC2",
            started_by="ecsops-sim",
        )
        _pending(task, self.clock.as_datetime())
        backend.tasks.setdefault(cluster, {})[task.task_arn] = task
        model_task = ModelTask(
            task=task,
            cluster=cluster,
            service_key="",
            deployment_id="",
            container_instance_id=container_instance.id,
            failure=None,
            stuck=False,
            due=self.clock.now() + self.timing.start_seconds,
            run_seconds=run_seconds,
        )
        self.tasks[model_task.arn] = model_task
        self.recount()
        return model_task

    def _targets(
        self,
        service: Any,
        task_definition: Any,
        model_task: ModelTask,
        container_instance: Any | None,
        placement: Placement,
        awsvpc: bool,
    ) -> list[TargetRef]:
        refs = []
        for lb in service.load_balancers:
            if "targetGroupArn" not in lb:
                continue
            port = int(lb.get("containerPort", 80))
            if awsvpc or container_instance is None:
                details = {d["name"]: d["value"] for a in model_task.task.attachments for d in a["details"]}
                target_id = details.get("privateIPv4Address", "10.0.0.1")
            else:
                target_id = container_instance.ec2_instance_id
                port = placement.host_port or port
                for container in model_task.task.containers:
                    container.network_bindings = [
                        {"bindIP": "0.0.0.0", "containerPort": lb.get("containerPort"), "hostPort": port}
                    ]
            refs.append(TargetRef(lb["targetGroupArn"], target_id, port))
        return refs

    def advance(self) -> tuple[list[ModelTask], list[ModelTask]]:
        """Run every transition that is due; return (tasks that started running, tasks that failed to start)."""
        now = self.clock.now()
        started: list[ModelTask] = []
        failed: list[ModelTask] = []
        for model_task in sorted(self.tasks.values(), key=lambda t: t.due):
            if model_task.due > now:
                break
            if model_task.state == "PENDING":
                if model_task.failing:
                    self._fail(model_task)
                    failed.append(model_task)
                else:
                    self._set_state(
                        model_task, "RUNNING", INF if model_task.run_seconds is None else now + model_task.run_seconds
                    )
                    model_task.task.started_at = self.clock.as_datetime()
                    model_task.task.health_status = "HEALTHY"
                    for container in model_task.task.containers:
                        container.last_status = "RUNNING"
                    for ref in model_task.targets:
                        self.elb.register(ref)
                    started.append(model_task)
            elif model_task.state == "RUNNING":
                self.stop(model_task, "Essential container in task exited", "EssentialContainerExited")
            elif model_task.state == "DEACTIVATING":
                self._set_state(model_task, "STOPPING", now + model_task.stop_seconds)
            elif model_task.state == "STOPPING":
                self._finish_stop(model_task)
        self._expire(now)
        return started, failed

    def stop(self, model_task: ModelTask, reason: str, code: str, draining: bool = False) -> None:
        """Desired STOPPED: pending tasks stop at once; running ones deregister, drain, then stop."""
        if model_task.stopping:
            return
        model_task.stopping = True
        model_task.task.desired_status = "STOPPED"
        model_task.task.stopped_reason = reason
        model_task.task.stop_code = code
        now = self.clock.now()
        stop_seconds = self.timing.drain_seconds if draining else self.timing.stop_seconds
        if model_task.state == "PENDING":
            self._finish_stop(model_task)
            return
        delay = max((self.elb.deregister(ref) for ref in model_task.targets), default=0.0)
        model_task.stop_seconds = stop_seconds
        if delay > 0:
            self._set_state(model_task, "DEACTIVATING", now + delay)
        else:
            self._set_state(model_task, "STOPPING", now + stop_seconds)

    def kill(self, model_task: ModelTask, reason: str, code: str) -> None:
        """The host is gone: the task is STOPPED now, without draining."""
        model_task.stopping = True
        model_task.task.desired_status = "STOPPED"
        model_task.task.stopped_reason = reason
        model_task.task.stop_code = code
        for ref in model_task.targets:
            self.elb.deregister(ref)
        self._finish_stop(model_task)

    def _fail(self, model_task: ModelTask) -> None:
        failure = model_task.failure or StartFailure()
        image = model_task.task.containers[0].image if model_task.task.containers else "?"
        reason = failure.stopped_reason(image)
        model_task.stopping = True
        model_task.task.desired_status = "STOPPED"
        model_task.task.stopped_reason = reason
        model_task.task.stop_code = failure.stop_code()
        for container in model_task.task.containers:
            if failure.kind == "exit":
                container.exitCode = failure.exit_code
                container.reason = None
            else:
                # The container never ran: ECS reports no exit code, only why it could not start.
                container.exitCode = None
                container.reason = reason if failure.kind == "pull" else None
        self._finish_stop(model_task)

    def _finish_stop(self, model_task: ModelTask) -> None:
        self._set_state(model_task, "STOPPED", self.clock.now() + STOPPED_TASK_RETENTION)
        model_task.task.stopped_at = self.clock.as_datetime()
        for container in model_task.task.containers:
            container.last_status = "STOPPED"

    @staticmethod
    def _set_state(model_task: ModelTask, state: str, due: float) -> None:
        model_task.state = state
        model_task.due = due
        model_task.task.status = state

    def _expire(self, now: float) -> None:
        """ECS forgets stopped tasks after about an hour."""
        backend = self.backend()
        for arn, model_task in list(self.tasks.items()):
            if model_task.state == "STOPPED" and model_task.due <= now:
                del self.tasks[arn]
                backend.tasks.get(model_task.cluster, {}).pop(arn, None)

    def next_due(self) -> float | None:
        return min((t.due for t in self.tasks.values() if t.due != INF), default=None)

    def recount(self) -> None:
        """Keep runningTasksCount/pendingTasksCount of container instances and clusters true to the tasks."""
        backend = self.backend()
        for cluster_name, cluster in backend.clusters.items():
            running = pending = 0
            per_instance: dict[str, tuple[int, int]] = {}
            for task in backend.tasks.get(cluster_name, {}).values():
                status = task.last_status
                key = (task.container_instance_arn or "").rsplit("/", 1)[-1]
                r, p = per_instance.get(key, (0, 0))
                if status in RUNNING_LIKE:
                    running += 1
                    per_instance[key] = (r + 1, p)
                elif status in ("PROVISIONING", "PENDING", "ACTIVATING"):
                    pending += 1
                    per_instance[key] = (r, p + 1)
            cluster.running_tasks_count = running
            cluster.pending_tasks_count = pending
            for container_instance_id, container_instance in backend.container_instances.get(cluster_name, {}).items():
                r, p = per_instance.get(container_instance_id, (0, 0))
                container_instance.running_tasks_count = r
                container_instance.pending_tasks_count = p


def _pending(task: Any, now: Any) -> None:
    """A task ECS just accepted: PENDING, wanted RUNNING, no start or stop yet."""
    task.status = "PENDING"
    task.desired_status = "RUNNING"
    task.created_at = now
    task.started_at = None
    task.stopped_at = None
    task.stop_code = None
    task.health_status = "UNKNOWN"
