"""One poll serves every instance in flight: the group, the cluster's container instances, its services."""

from __future__ import annotations

from collections.abc import Collection

from ecsops.aws.autoscaling import AutoScalingReader
from ecsops.aws.ecs import EcsGateway
from ecsops.replace.verdict import ContainerInstanceView, ServiceView, Snapshot


class ClusterPoller:
    """Polls with a cost that grows with batches of 100 (10 for services), not with instances.

    Container instance ARNs never change owner, so each ARN's EC2 instance is learnt once; later polls
    describe only the ARNs never seen and those of the instances being watched.
    """

    def __init__(self, reader: AutoScalingReader, ecs: EcsGateway, asg_name: str, cluster: str) -> None:
        self._reader = reader
        self._ecs = ecs
        self._asg_name = asg_name
        self._cluster = cluster
        self._ec2_by_arn: dict[str, str] = {}

    def poll(self, *, watch: Collection[str], new_instances: bool, services: bool, now: float) -> Snapshot:
        """The group's instances; container instances of `watch` (EC2 ids), of every group instance when
        `new_instances` (a replacement is awaited), and of ARNs never seen; services when `services`."""
        group = self._reader.describe_group(self._asg_name)
        group_instances = {i["InstanceId"]: str(i["LifecycleState"]) for i in group.get("Instances") or []}
        watched = set(watch)
        if new_instances:
            watched |= set(group_instances)
        arns = self._ecs.list_container_instance_arns(self._cluster)
        wanted = [arn for arn in arns if arn not in self._ec2_by_arn or self._ec2_by_arn[arn] in watched]
        container_instances: dict[str, ContainerInstanceView] = {}
        if wanted:
            for described in self._ecs.describe_container_instances(self._cluster, wanted):
                view = ContainerInstanceView.from_described(described)
                self._ec2_by_arn[view.arn] = view.ec2_instance_id
                container_instances[view.ec2_instance_id] = view
        service_views = None
        if services:
            service_arns = self._ecs.list_service_arns(self._cluster)
            found, _ = self._ecs.describe_services(self._cluster, service_arns)
            service_views = [ServiceView.from_described(service) for service in found]
        return Snapshot(group_instances, container_instances, service_views, now)

    def describe_one(self, ec2_instance_id: str, arn: str) -> ContainerInstanceView | None:
        """A fresh look at one container instance (right before a termination); None when ECS forgot it."""
        for described in self._ecs.describe_container_instances(self._cluster, [arn]):
            view = ContainerInstanceView.from_described(described)
            if view.ec2_instance_id == ec2_instance_id:
                return view
        return None
