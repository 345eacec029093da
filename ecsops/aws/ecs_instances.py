"""Thin ECS layer for replace-instances: container instances and services, batched as ECS allows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from ecsops.aws.batching import batches

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

CONTAINER_INSTANCES_PER_CALL = 100  # DescribeContainerInstances
SERVICES_PER_CALL = 10  # DescribeServices
STATE_UPDATES_PER_CALL = 10  # UpdateContainerInstancesState



class ClusterNotFound(LookupError):
    """DescribeClusters knows no ACTIVE cluster of that name."""

    def __init__(self, cluster: str, status: str | None = None) -> None:
        self.cluster = cluster
        detail = f"its status is {status}" if status else "DescribeClusters returned no such cluster"
        super().__init__(f"ECS cluster {cluster!r} not found ({detail})")


class EcsInstancesGateway:
    """One method per ECS call replace-instances makes; the client's configuration is the caller's."""

    def __init__(self, ecs: ECSClient) -> None:
        self._ecs = ecs

    def describe_cluster(self, cluster: str) -> dict[str, Any]:
        """The cluster; raises ClusterNotFound when it does not exist or is not ACTIVE."""
        response = self._ecs.describe_clusters(clusters=[cluster])
        for found in response.get("clusters", []):
            if found.get("status") != "ACTIVE":
                raise ClusterNotFound(cluster, found.get("status"))
            return cast("dict[str, Any]", found)
        raise ClusterNotFound(cluster)

    def list_container_instance_arns(self, cluster: str) -> list[str]:
        """ListContainerInstances, every page."""
        arns: list[str] = []
        for page in self._ecs.get_paginator("list_container_instances").paginate(
            cluster=cluster, PaginationConfig={"PageSize": 100}
        ):
            arns.extend(page.get("containerInstanceArns", []))
        return arns

    def describe_container_instances(self, cluster: str, arns: Sequence[str]) -> list[dict[str, Any]]:
        """DescribeContainerInstances, 100 ARNs per call; ARNs ECS no longer knows are left out."""
        found: list[dict[str, Any]] = []
        for batch in batches(arns, CONTAINER_INSTANCES_PER_CALL):
            response = self._ecs.describe_container_instances(cluster=cluster, containerInstances=batch)
            found.extend(cast("dict[str, Any]", ci) for ci in response.get("containerInstances", []))
        return found

    def set_container_instances_state(self, cluster: str, arns: Sequence[str], status: str) -> list[dict[str, Any]]:
        """UpdateContainerInstancesState (ACTIVE or DRAINING); returns the container instances as updated."""
        updated: list[dict[str, Any]] = []
        for batch in batches(arns, STATE_UPDATES_PER_CALL):
            response = self._ecs.update_container_instances_state(
                cluster=cluster,
                containerInstances=batch,
                status=status,  # type: ignore[arg-type]
            )
            updated.extend(cast("dict[str, Any]", ci) for ci in response.get("containerInstances", []))
        return updated

    def list_service_arns(self, cluster: str) -> list[str]:
        """ListServices, every page."""
        arns: list[str] = []
        for page in self._ecs.get_paginator("list_services").paginate(
            cluster=cluster, PaginationConfig={"PageSize": 100}
        ):
            arns.extend(page.get("serviceArns", []))
        return arns

    def describe_services(self, cluster: str, arns: Sequence[str]) -> list[dict[str, Any]]:
        """DescribeServices, 10 per call."""
        found: list[dict[str, Any]] = []
        for batch in batches(arns, SERVICES_PER_CALL):
            response = self._ecs.describe_services(cluster=cluster, services=batch)
            found.extend(cast("dict[str, Any]", service) for service in response.get("services", []))
        return found
