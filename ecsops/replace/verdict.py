"""Pure decisions from one poll snapshot: which new instance replaces which, and whether a drain is done."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ACTIVE = "ACTIVE"
DRAINING = "DRAINING"


@dataclass(frozen=True)
class ContainerInstanceView:
    """The fields of one DescribeContainerInstances entry replace-instances looks at."""

    arn: str
    ec2_instance_id: str
    status: str
    running_tasks: int
    pending_tasks: int
    agent_connected: bool

    @classmethod
    def from_described(cls, described: Mapping[str, Any]) -> ContainerInstanceView:
        return cls(
            arn=str(described["containerInstanceArn"]),
            ec2_instance_id=str(described.get("ec2InstanceId", "")),
            status=str(described.get("status", "")),
            running_tasks=int(described.get("runningTasksCount", 0)),
            pending_tasks=int(described.get("pendingTasksCount", 0)),
            agent_connected=bool(described.get("agentConnected", False)),
        )

    @property
    def tasks(self) -> int:
        return self.running_tasks + self.pending_tasks

    @property
    def can_take_tasks(self) -> bool:
        return self.status == ACTIVE and self.agent_connected


@dataclass(frozen=True)
class ServiceView:
    name: str
    desired: int
    running: int

    @classmethod
    def from_described(cls, described: Mapping[str, Any]) -> ServiceView:
        return cls(
            name=str(described.get("serviceName", described.get("serviceArn", "?"))),
            desired=int(described.get("desiredCount", 0)),
            running=int(described.get("runningCount", 0)),
        )


@dataclass(frozen=True)
class Snapshot:
    """One poll: the group's instances (id -> lifecycle state), container instances by EC2 id, services.

    `services` is None when the poll did not look at services (no instance was draining).
    """

    group_instances: Mapping[str, str]
    container_instances: Mapping[str, ContainerInstanceView]
    services: Sequence[ServiceView] | None = None
    at: float = 0.0


@dataclass(frozen=True)
class WaitingInstance:
    """An instance detached from the group, waiting for the instance the group launched in its place."""

    instance_id: str
    # The group's instance ids just before the detach: none of them can be its replacement.
    known_before: frozenset[str]


@dataclass(frozen=True)
class DrainProgress:
    done: bool
    message: str
    lagging_services: tuple[str, ...] = field(default_factory=tuple)


def replacement_candidates(snapshot: Snapshot, known_before: Iterable[str], claimed: Iterable[str]) -> list[str]:
    """InService group instances unknown before the detach, not claimed, ACTIVE in the cluster, oldest first."""
    excluded = set(known_before) | set(claimed)
    candidates = []
    for instance_id, lifecycle in snapshot.group_instances.items():
        if instance_id in excluded or lifecycle != "InService":
            continue
        container_instance = snapshot.container_instances.get(instance_id)
        if container_instance is not None and container_instance.can_take_tasks:
            candidates.append(instance_id)
    return sorted(candidates)


def assign_replacements(
    snapshot: Snapshot, waiting: Sequence[WaitingInstance], claimed: Iterable[str]
) -> dict[str, str]:
    """Give each waiting instance (in order) its own replacement, if one is ready: {instance_id: replacement}."""
    taken = set(claimed)
    assigned: dict[str, str] = {}
    for instance in waiting:
        candidates = replacement_candidates(snapshot, instance.known_before, taken)
        if candidates:
            assigned[instance.instance_id] = candidates[0]
            taken.add(candidates[0])
    return assigned


def lagging_services(services: Iterable[ServiceView]) -> tuple[str, ...]:
    """Services running fewer tasks than they desire."""
    return tuple(sorted(s.name for s in services if s.running < s.desired))


def drain_progress(snapshot: Snapshot, instance_id: str) -> DrainProgress:
    """Done when the instance runs no tasks and every service of the cluster is back at its desired count."""
    container_instance = snapshot.container_instances.get(instance_id)
    if container_instance is None:
        return DrainProgress(False, "waiting for the first poll of its container instance")
    if container_instance.status != DRAINING:
        return DrainProgress(False, f"container instance is {container_instance.status}, not yet DRAINING")
    if container_instance.tasks:
        return DrainProgress(
            False,
            f"{container_instance.running_tasks} running and {container_instance.pending_tasks} pending tasks left",
        )
    if snapshot.services is None:
        return DrainProgress(False, "no tasks left; services not yet checked")
    lagging = lagging_services(snapshot.services)
    if lagging:
        return DrainProgress(False, "no tasks left; services below desired count: " + ", ".join(lagging), lagging)
    return DrainProgress(True, "no tasks left and every service at its desired count")
