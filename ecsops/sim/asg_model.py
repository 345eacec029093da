"""Auto Scaling model: launch settings recorded at launch, ECS agent registration after boot, deregistration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.autoscaling.models import autoscaling_backends
from moto.ec2.models import ec2_backends
from moto.ecs.models import ecs_backends

from ecsops.sim.clock import VirtualClock

CLUSTER_TAG = "ecsops-sim:cluster"
LAUNCH_RECORD = "_ecsops_launch_settings"


def record_launch_settings(instance: Any, group: Any) -> None:
    """Remember the group's launch settings on the instance the first time a group owns it, as AWS does."""
    if getattr(instance, LAUNCH_RECORD, None) is not None or group is None:
        return
    template = None
    if getattr(group, "ec2_launch_template", None) is not None:
        version = getattr(group, "provided_launch_template_version", None) or group.launch_template_version
        template = {
            "LaunchTemplateId": group.ec2_launch_template.id,
            "LaunchTemplateName": group.ec2_launch_template.name,
            "Version": str(version),
        }
    setattr(
        instance,
        LAUNCH_RECORD,
        {"launch_configuration_name": getattr(group, "launch_configuration_name", None), "template": template},
    )


def attach_refusal(group: Any, attaching: int) -> str | None:
    """AWS's ValidationError message when AttachInstances would take desired capacity past MaxSize, else None.

    AWS compares desired capacity plus the instances attached with MaxSize and answers HTTP 400; moto compares
    the instance count and answers ResourceContention (HTTP 500), which clients retry as if it were transient.
    """
    desired, max_size = int(group.desired_capacity or 0), int(group.max_size or 0)
    if desired + attaching <= max_size:
        return None
    noun = "instance" if attaching == 1 else "instances"
    return (
        f"AutoScalingGroup {group.name} has min-size={group.min_size}, max-size={max_size}, and "
        f"desired-size={desired}. To attach {attaching} {noun}, please update the AutoScalingGroup sizes "
        "appropriately."
    )


def recorded_launch_template(instance: Any) -> dict[str, Any] | None:
    record = getattr(instance, LAUNCH_RECORD, None)
    return None if record is None else record["template"]


def recorded_launch_configuration(instance: Any) -> str | None:
    record = getattr(instance, LAUNCH_RECORD, None)
    return None if record is None else record["launch_configuration_name"]


@dataclass
class AsgModel:
    """Registers new group instances in their cluster after `boot_seconds`; deregisters terminated ones."""

    clock: VirtualClock
    account: str
    region: str
    boot_seconds: float
    clusters_by_group: dict[str, str]
    on_instance_lost: Callable[[str, str, str], None]
    seen: set[str] = field(default_factory=set)
    booting: dict[str, tuple[str, float]] = field(default_factory=dict)

    def step(self) -> None:
        now = self.clock.now()
        autoscaling = autoscaling_backends[self.account][self.region]
        ec2 = ec2_backends[self.account][self.region]
        for group in list(autoscaling.autoscaling_groups.values()):
            cluster = self._cluster_of(group)
            for state in group.instance_states:
                instance_id = state.instance.id
                if instance_id in self.seen:
                    continue
                self.seen.add(instance_id)
                if cluster is not None and not self._registered(instance_id):
                    self.booting[instance_id] = (cluster, now + self.boot_seconds)
        for instance_id, (cluster, due) in list(self.booting.items()):
            if due > now:
                continue
            del self.booting[instance_id]
            instance = ec2.get_instance_by_id(instance_id)
            if instance is not None and instance.state == "running" and cluster in self._ecs().clusters:
                self._ecs().register_container_instance(cluster, instance_id)
        self._deregister_terminated(ec2)

    def next_due(self) -> float | None:
        return min((due for _, due in self.booting.values()), default=None)

    def _deregister_terminated(self, ec2: Any) -> None:
        ecs = self._ecs()
        for cluster, instances in list(ecs.container_instances.items()):
            if cluster == "orphaned":
                continue
            for container_instance_id, container_instance in list(instances.items()):
                instance = ec2.get_instance_by_id(container_instance.ec2_instance_id)
                if instance is None or instance.state in ("shutting-down", "terminated", "stopped", "stopping"):
                    self.on_instance_lost(cluster, container_instance_id, container_instance.ec2_instance_id)

    def _cluster_of(self, group: Any) -> str | None:
        if group.name in self.clusters_by_group:
            return self.clusters_by_group[group.name]
        for tag in group.tags:
            if tag.get("Key") == CLUSTER_TAG:
                return str(tag.get("Value"))
        return None

    def _registered(self, instance_id: str) -> bool:
        return any(
            ci.ec2_instance_id == instance_id
            for instances in self._ecs().container_instances.values()
            for ci in instances.values()
        )

    def _ecs(self) -> Any:
        return ecs_backends[self.account][self.region]
