"""Thin ECS gateway: one method per API call with explicit arguments, and typed not-found errors."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from ecsops.aws.batching import batches

DESCRIBE_SERVICES_BATCH = 10  # the most DescribeServices accepts per call
DESCRIBE_CONTAINER_INSTANCES_BATCH = 100  # the most DescribeContainerInstances accepts per call
UPDATE_CONTAINER_INSTANCES_STATE_BATCH = 10  # the most UpdateContainerInstancesState accepts per call
LIST_PAGE = 100  # the most ListContainerInstances and ListServices return per call
DESCRIBE_TASKS_BATCH = 100  # the most DescribeTasks accepts per call
LIST_TASKS_PAGE = 100  # the most ListTasks returns per call
DESCRIBE_SERVICE_DEPLOYMENTS_BATCH = 20  # the most DescribeServiceDeployments accepts per call
DESCRIBE_SERVICE_REVISIONS_BATCH = 20  # the most DescribeServiceRevisions accepts per call
LIST_SERVICE_DEPLOYMENTS_PAGE = 100  # the most ListServiceDeployments returns per call
# Every ServiceDeploymentStatus that is not final (botocore's ECS model, ServiceDeploymentStatus).
UNFINISHED_SERVICE_DEPLOYMENT_STATUSES = (
    "PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS",
)


class EcsNotFound(LookupError):
    """Something the deploy names does not exist; `message` says what and how to find the right name."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ClusterNotFound(EcsNotFound):
    """ECS knows no ACTIVE cluster of that name (`status`: the one it knows, e.g. INACTIVE)."""

    def __init__(self, cluster: str, status: str | None = None) -> None:
        detail = f"its status is {status}; " if status else ""
        super().__init__(
            f"cluster {cluster!r} not found ({detail}aws ecs list-clusters shows the clusters of this region)"
        )
        self.cluster = cluster


class ServiceNotFound(EcsNotFound):
    def __init__(self, cluster: str, service: str, detail: str = "MISSING") -> None:
        super().__init__(
            f"service {service!r} not found in cluster {cluster!r} ({detail}); "
            f"aws ecs list-services --cluster {cluster} shows its services"
        )
        self.cluster = cluster
        self.service = service


class TaskDefinitionNotFound(EcsNotFound):
    def __init__(self, reference: str, detail: str) -> None:
        super().__init__(f"task definition {reference!r} not found: {detail}")
        self.reference = reference


def revision_of(task_definition_arn: str) -> int:
    """The revision number at the end of a task definition ARN (`...:task-definition/web:7` -> 7)."""
    match = re.search(r":(\d+)$", task_definition_arn)
    return int(match.group(1)) if match else 0


def short_name(task_definition_arn: str) -> str:
    """`family:revision` of a task definition ARN, for people."""
    return task_definition_arn.rsplit("/", 1)[-1]


class EcsGateway:
    """The ECS calls ecsops makes (a deploy's, replace-instances' and approve's). The boto3 client is made on first
    use, so building one is free."""

    def __init__(
        self, client_factory: Callable[[], Any], mutation_client_factory: Callable[[], Any] | None = None
    ) -> None:
        self._client_factory = client_factory
        self._mutation_client_factory = mutation_client_factory or client_factory
        self._client: Any = None
        self._mutation_client: Any = None
        # DescribeServices answers read ahead in batches (prefetch_services), each handed out once.
        self._prefetched: dict[tuple[str, str], dict[str, Any]] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    @property
    def mutation_client(self) -> Any:
        """The client for calls that must not be retried blindly (see ecsops.aws.clients.make_client)."""
        if self._mutation_client is None:
            self._mutation_client = self._mutation_client_factory()
        return self._mutation_client

    # ---- reads ----------------------------------------------------------------------------------
    def describe_services(self, cluster: str, services: Sequence[str]) -> tuple[list[dict[str, Any]], list[Any]]:
        """DescribeServices in batches of 10: (services, failures). Raises ClusterNotFound."""
        from botocore.exceptions import ClientError

        found: list[dict[str, Any]] = []
        failures: list[Any] = []
        for batch in batches(services, DESCRIBE_SERVICES_BATCH):
            try:
                response = self.client.describe_services(cluster=cluster, services=batch)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ClusterNotFoundException":
                    raise ClusterNotFound(cluster) from exc
                raise
            found.extend(response.get("services", []))
            failures.extend(response.get("failures", []))
        return found, failures

    def describe_cluster(self, cluster: str) -> dict[str, Any]:
        """The cluster; raises ClusterNotFound when it does not exist or is not ACTIVE."""
        for found in self.client.describe_clusters(clusters=[cluster]).get("clusters", []):
            if found.get("status") != "ACTIVE":
                raise ClusterNotFound(cluster, found.get("status"))
            return dict(found)
        raise ClusterNotFound(cluster)

    def list_service_arns(self, cluster: str) -> list[str]:
        """ListServices, every page."""
        return self._every_page("list_services", "serviceArns", cluster)

    def list_container_instance_arns(self, cluster: str) -> list[str]:
        """ListContainerInstances, every page."""
        return self._every_page("list_container_instances", "containerInstanceArns", cluster)

    def _every_page(self, operation: str, key: str, cluster: str) -> list[str]:
        arns: list[str] = []
        pages = self.client.get_paginator(operation).paginate(cluster=cluster, PaginationConfig={"PageSize": LIST_PAGE})
        for page in pages:
            arns.extend(page.get(key, []))
        return arns

    def describe_container_instances(self, cluster: str, arns: Sequence[str]) -> list[dict[str, Any]]:
        """DescribeContainerInstances, 100 ARNs per call; ARNs ECS no longer knows are left out."""
        found: list[dict[str, Any]] = []
        for batch in batches(arns, DESCRIBE_CONTAINER_INSTANCES_BATCH):
            response = self.client.describe_container_instances(cluster=cluster, containerInstances=batch)
            found.extend(response.get("containerInstances", []))
        return found

    def prefetch_services(self, cluster: str, services: Sequence[str]) -> None:
        """Read these services of one cluster 10 a request; the next describe_service of each is answered from
        that read instead of a request of its own. Names or ARNs, as describe_service will be asked them."""
        found, _ = self.describe_services(cluster, services)
        for wanted in services:
            answer = next((s for s in found if wanted in (s.get("serviceName"), s.get("serviceArn"))), None)
            if answer is not None:
                self._prefetched[(cluster, wanted)] = answer

    def describe_service(self, cluster: str, service: str) -> dict[str, Any]:
        """One ACTIVE service. Raises ClusterNotFound or ServiceNotFound (also for a deleted service)."""
        prefetched = self._prefetched.pop((cluster, service), None)
        if prefetched is not None and prefetched.get("status") == "ACTIVE":
            return prefetched
        services, failures = self.describe_services(cluster, [service])
        if not services:
            reason = failures[0].get("reason", "MISSING") if failures else "MISSING"
            raise ServiceNotFound(cluster, service, reason)
        described = services[0]
        if described.get("status") != "ACTIVE":
            raise ServiceNotFound(cluster, service, f"status {described.get('status')}")
        return described

    def describe_task_definition(self, reference: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """(taskDefinition, tags) of FAMILY, FAMILY:REV or ARN. Raises TaskDefinitionNotFound."""
        from botocore.exceptions import ClientError

        try:
            response = self.client.describe_task_definition(taskDefinition=reference, include=["TAGS"])
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
            if status < 500 and error.get("Code") in ("ClientException", "InvalidParameterException"):
                raise TaskDefinitionNotFound(reference, str(error.get("Message"))) from exc
            raise
        return dict(response["taskDefinition"]), list(response.get("tags") or [])

    def list_task_definitions(self, family: str, newest: int) -> list[str]:
        """The family's newest ACTIVE revisions (at most `newest`), newest first."""
        arns: list[str] = []
        request: dict[str, Any] = {"familyPrefix": family, "sort": "DESC", "status": "ACTIVE"}
        while True:
            response = self.client.list_task_definitions(**request)
            arns.extend(response.get("taskDefinitionArns", []))
            token = response.get("nextToken")
            if not token or len(arns) >= newest * 10:
                break
            request["nextToken"] = token
        # familyPrefix also matches longer family names; sort ourselves, not every endpoint honours sort.
        own = [arn for arn in arns if short_name(arn).rsplit(":", 1)[0] == family]
        return sorted(own, key=revision_of, reverse=True)[:newest]

    def list_stopped_tasks(self, cluster: str, started_by: str) -> list[str]:
        """ARNs of stopped tasks whose startedBy is `started_by` (a service's tasks carry their deployment id),
        one page of at most 100. ECS keeps stopped tasks for about an hour. startedBy must be the only filter
        besides the cluster and desiredStatus, so no serviceName here."""
        response = self.client.list_tasks(
            cluster=cluster, startedBy=started_by, desiredStatus="STOPPED", maxResults=LIST_TASKS_PAGE
        )
        return list(response.get("taskArns", []))

    def describe_tasks(self, cluster: str, task_arns: Sequence[str]) -> list[dict[str, Any]]:
        """DescribeTasks in batches of 100; tasks ECS no longer knows are left out."""
        described: list[dict[str, Any]] = []
        for batch in batches(task_arns, DESCRIBE_TASKS_BATCH):
            described.extend(self.client.describe_tasks(cluster=cluster, tasks=batch).get("tasks", []))
        return described

    # ---- service deployments (ECS's record of each deployment, on every strategy) -------------------
    def list_service_deployments(
        self,
        cluster: str,
        service: str,
        *,
        statuses: Sequence[str] = (),
        created_after: float | None = None,
        pages: int = 3,
    ) -> list[dict[str, Any]]:
        """ServiceDeploymentBrief of the service, newest first as ECS lists them; at most `pages` pages."""
        from datetime import UTC, datetime

        request: dict[str, Any] = {"cluster": cluster, "service": service, "maxResults": LIST_SERVICE_DEPLOYMENTS_PAGE}
        if statuses:
            request["status"] = list(statuses)
        if created_after is not None:
            request["createdAt"] = {"after": datetime.fromtimestamp(created_after, UTC)}
        briefs: list[dict[str, Any]] = []
        for _ in range(pages):
            response = self.client.list_service_deployments(**request)
            briefs.extend(response.get("serviceDeployments", []))
            token = response.get("nextToken")
            if not token:
                break
            request["nextToken"] = token
        return briefs

    def describe_service_deployments(self, arns: Sequence[str]) -> list[dict[str, Any]]:
        """ServiceDeployment of each ARN (20 per call); ones ECS does not know are left out."""
        found: list[dict[str, Any]] = []
        for batch in batches(arns, DESCRIBE_SERVICE_DEPLOYMENTS_BATCH):
            found.extend(self.client.describe_service_deployments(serviceDeploymentArns=batch).get(
                "serviceDeployments", []))
        return found

    def describe_service_revisions(self, arns: Sequence[str]) -> list[dict[str, Any]]:
        """ServiceRevision of each ARN (20 per call); ones ECS does not know are left out."""
        found: list[dict[str, Any]] = []
        for batch in batches(arns, DESCRIBE_SERVICE_REVISIONS_BATCH):
            found.extend(self.client.describe_service_revisions(serviceRevisionArns=batch).get(
                "serviceRevisions", []))
        return found

    def stop_service_deployment(self, arn: str, stop_type: str) -> str:
        """StopServiceDeployment (stopType ROLLBACK or ABORT); returns the deployment's ARN."""
        response = self.mutation_client.stop_service_deployment(serviceDeploymentArn=arn, stopType=stop_type)
        return str(response.get("serviceDeploymentArn") or arn)

    def continue_service_deployment(self, arn: str, hook_id: str, action: str) -> str:
        """ContinueServiceDeployment for one lifecycle hook awaiting action (action CONTINUE or ROLLBACK)."""
        response = self.mutation_client.continue_service_deployment(
            serviceDeploymentArn=arn, hookId=hook_id, action=action
        )
        return str(response.get("serviceDeploymentArn") or arn)

    # ---- changes --------------------------------------------------------------------------------
    def set_container_instances_state(self, cluster: str, arns: Sequence[str], status: str) -> list[dict[str, Any]]:
        """UpdateContainerInstancesState (ACTIVE or DRAINING), 10 per call; the container instances as updated.
        Setting a state is idempotent: this one goes through the retrying client."""
        updated: list[dict[str, Any]] = []
        for batch in batches(arns, UPDATE_CONTAINER_INSTANCES_STATE_BATCH):
            response = self.client.update_container_instances_state(
                cluster=cluster, containerInstances=batch, status=status
            )
            updated.extend(response.get("containerInstances", []))
        return updated

    def register_task_definition(self, request: dict[str, Any]) -> dict[str, Any]:
        """RegisterTaskDefinition with the request as built by ecsops.deploy.taskdef_edit; returns taskDefinition."""
        response = self.mutation_client.register_task_definition(**request)
        return dict(response["taskDefinition"])

    def update_service(
        self,
        cluster: str,
        service: str,
        task_definition: str,
        desired_count: int | None,
        force_new_deployment: bool,
    ) -> dict[str, Any]:
        """UpdateService; returns the service as UpdateService answers it (deployments included)."""
        request: dict[str, Any] = {
            "cluster": cluster,
            "service": service,
            "taskDefinition": task_definition,
            "forceNewDeployment": force_new_deployment,
        }
        if desired_count is not None:
            request["desiredCount"] = desired_count
        response = self.mutation_client.update_service(**request)
        return dict(response["service"])
