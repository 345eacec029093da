"""ECS service deployments and service revisions: the records, their change log, and their API rendering.

Documented: every member name and enum value (botocore's ServiceDeployment, ServiceDeploymentBrief,
ServiceRevision, DeploymentLifecycleHookDetail, Rollback), the ARN forms (the developer guide's examples) and
`rolloutState` being returned only for rolling deployments. Inferred: id lengths where AWS shows no example
(Lambda hook ids), `currentServiceDeployment` lagging a new deployment until virtual time moves, the counts
frozen on a finished deployment's summaries; see docs/service-deployments.md."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from typing import Any

# Documented: botocore ServiceDeploymentLifecycleStage (status side) and DeploymentLifecycleHookStage (hook side).
LIFECYCLE_STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
)
HOOK_STAGES = frozenset(
    {
        "RECONCILE_SERVICE",
        "PRE_SCALE_UP",
        "POST_SCALE_UP",
        "TEST_TRAFFIC_SHIFT",
        "POST_TEST_TRAFFIC_SHIFT",
        "PRE_PRODUCTION_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "POST_PRODUCTION_TRAFFIC_SHIFT",
    }
)
FINISHED = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
NATIVE_STRATEGIES = frozenset({"BLUE_GREEN", "LINEAR", "CANARY"})
_URL_SAFE = string.ascii_letters + string.digits + "-_"


@dataclass
class ServiceRevision:
    """What a deployment deploys: the task definition and the service's environment at that moment."""

    id: str
    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    launch_type: str
    created_at: float
    images: list[dict[str, str]]
    load_balancers: list[dict[str, Any]]
    network_configuration: dict[str, Any] | None

    def render(self) -> dict[str, Any]:
        revision: dict[str, Any] = {
            "serviceRevisionArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "taskDefinition": self.task_definition,
            "launchType": self.launch_type,
            "loadBalancers": self.load_balancers,
            "containerImages": self.images,
            "guardDutyEnabled": False,
            "createdAt": self.created_at,
        }
        if self.network_configuration:
            revision["networkConfiguration"] = self.network_configuration
        return revision


@dataclass
class HookRun:
    """One execution of a lifecycle hook at one stage (a hook with several stages runs once per stage)."""

    hook_id: str
    target_type: str
    target_arn: str | None
    stage: str
    status: str
    expires_at: float
    timeout_action: str
    answer: str | None = None  # the Lambda's answer, due at answer_at; None for PAUSE
    answer_at: float | None = None

    def render(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "hookId": self.hook_id,
            "targetType": self.target_type,
            "status": self.status,
            "expiresAt": self.expires_at,
            "timeoutAction": self.timeout_action,
        }
        if self.target_arn is not None:
            detail["targetArn"] = self.target_arn
        return detail


@dataclass
class RevisionCounts:
    requested: int = 0
    running: int = 0
    pending: int = 0


@dataclass
class ServiceDeployment:
    """One service deployment; `ecs_id` is the ecs-svc deployment (DescribeServices) running its target revision."""

    id: str
    arn: str
    cluster: str
    service: str
    service_arn: str
    cluster_arn: str
    strategy: str
    created_at: float
    configuration: dict[str, Any]
    target: ServiceRevision
    sources: list[ServiceRevision]
    ecs_id: str
    source_ecs_ids: list[str]
    desired: int
    threshold: int
    status: str = "IN_PROGRESS"
    status_reason: str | None = None
    stage: str | None = None
    stage_entered_at: float = 0.0
    updated_at: float = 0.0
    finished_at: float | None = None
    stopped_at: float | None = None
    rollback: dict[str, Any] | None = None
    hooks: list[HookRun] = field(default_factory=list)
    production_weight: float = 0.0
    test_weight: float = 0.0
    failure_count: int = 0
    breaker_status: str = "DISABLED"
    alarm_status: str = "DISABLED"
    triggered_alarms: list[str] = field(default_factory=list)
    # walk state (strategies.py)
    wait_until: float | None = None
    shift_phase: str = ""
    rollback_ecs_id: str | None = None  # rolling: the ecs-svc deployment ECS rolls back with
    rollback_fails: bool = False
    seeded: bool = False  # created while the scenario was seeded: no hooks, no bakes, so the account starts steady
    alarm_at: float | None = None
    triggers: dict[str, Any] = field(default_factory=dict)
    target_counts: RevisionCounts = field(default_factory=RevisionCounts)
    source_counts: dict[str, RevisionCounts] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.cluster}:{self.service}"

    @property
    def native(self) -> bool:
        return self.strategy in NATIVE_STRATEGIES

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def brief(self) -> dict[str, Any]:
        brief: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "startedAt": self.created_at,
            "createdAt": self.created_at,
            "targetServiceRevisionArn": self.target.arn,
            "status": self.status,
        }
        if self.finished_at is not None:
            brief["finishedAt"] = self.finished_at
        if self.status_reason:
            brief["statusReason"] = self.status_reason
        return brief

    def render(self) -> dict[str, Any]:
        deployment: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": self.created_at,
            "startedAt": self.created_at,
            "updatedAt": self.updated_at,
            "sourceServiceRevisions": [self._summary(r, self.source_counts.get(r.arn)) for r in self.sources],
            "targetServiceRevision": self._summary(self.target, self.target_counts),
            "status": self.status,
            "deploymentConfiguration": self.configuration,
            "deploymentCircuitBreaker": {
                "status": self.breaker_status,
                "failureCount": self.failure_count,
                "threshold": self.threshold,
            },
            "alarms": {
                "status": self.alarm_status,
                "alarmNames": list((self.configuration.get("alarms") or {}).get("alarmNames", [])),
                "triggeredAlarmNames": list(self.triggered_alarms),
            },
        }
        for key, value in (
            ("finishedAt", self.finished_at),
            ("stoppedAt", self.stopped_at),
            ("statusReason", self.status_reason),
            ("lifecycleStage", self.stage),
            ("rollback", self.rollback),
        ):
            if value is not None:
                deployment[key] = value
        if self.native:
            deployment["lifecycleHookDetails"] = [h.render() for h in self.hooks]
        return deployment

    def _summary(self, revision: ServiceRevision, counts: RevisionCounts | None) -> dict[str, Any]:
        counts = counts or RevisionCounts()
        summary: dict[str, Any] = {
            "arn": revision.arn,
            "requestedTaskCount": counts.requested,
            "runningTaskCount": counts.running,
            "pendingTaskCount": counts.pending,
        }
        if self.native:
            # inferred: percentages 0-100; the sources share what the target does not take, all on the newest one.
            target = revision is self.target
            newest_source = bool(self.sources) and revision is self.sources[0]
            rest = 1.0 if newest_source else 0.0
            production = self.production_weight if target else rest * (100.0 - self.production_weight)
            test = self.test_weight if target else rest * (100.0 - self.test_weight)
            summary["requestedProductionTrafficWeight"] = production
            summary["requestedTestTrafficWeight"] = test
        return summary


@dataclass(frozen=True)
class StatusChange:
    cluster: str
    service: str
    service_deployment_arn: str
    status: str
    lifecycle_stage: str | None
    at: float

    def as_json(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "service": self.service,
            "serviceDeploymentArn": self.service_deployment_arn,
            "status": self.status,
            "lifecycleStage": self.lifecycle_stage,
            "at": self.at,
        }


@dataclass
class ServiceDeploymentBook:
    """Every service deployment and revision of the account, and every status/stage change with its instant."""

    region: str
    account: str
    deployments: dict[str, ServiceDeployment] = field(default_factory=dict)  # by ARN, oldest first
    revisions: dict[str, ServiceRevision] = field(default_factory=dict)  # by ARN
    revision_of: dict[str, ServiceRevision] = field(default_factory=dict)  # ecs-svc deployment id -> revision
    changes: list[StatusChange] = field(default_factory=list)
    _ids: random.Random = field(default_factory=lambda: random.Random(1))

    def deployment_arn(self, cluster: str, service: str) -> str:
        deployment_id = "".join(self._ids.choice(_URL_SAFE) for _ in range(22))
        return f"arn:aws:ecs:{self.region}:{self.account}:service-deployment/{cluster}/{service}/{deployment_id}"

    def revision_arn(self, cluster: str, service: str) -> str:
        revision_id = self._ids.randint(10**18, 10**19 - 1)
        return f"arn:aws:ecs:{self.region}:{self.account}:service-revision/{cluster}/{service}/{revision_id}"

    def hook_id(self, target_type: str) -> str:
        # documented: pause hook ids look like ecs-pause-<43 url-safe chars>; inferred: ecs-lambda- for Lambda hooks.
        prefix = "ecs-pause-" if target_type == "PAUSE" else "ecs-lambda-"
        return prefix + "".join(self._ids.choice(_URL_SAFE) for _ in range(43))

    def add(self, deployment: ServiceDeployment) -> None:
        self.deployments[deployment.arn] = deployment
        self.revisions[deployment.target.arn] = deployment.target
        self.revision_of[deployment.ecs_id] = deployment.target
        self.record(deployment, deployment.created_at)

    def record(self, deployment: ServiceDeployment, now: float) -> None:
        deployment.updated_at = now
        last = next((c for c in reversed(self.changes) if c.service_deployment_arn == deployment.arn), None)
        if last is not None and (last.status, last.lifecycle_stage) == (deployment.status, deployment.stage):
            return
        self.changes.append(
            StatusChange(deployment.cluster, deployment.service, deployment.arn, deployment.status, deployment.stage,
                         now)
        )

    def of_service(self, key: str) -> list[ServiceDeployment]:
        """Oldest first."""
        return [d for d in self.deployments.values() if d.key == key]

    def in_flight(self) -> list[ServiceDeployment]:
        return [d for d in self.deployments.values() if not d.finished]

    def current_arn(self, key: str, now: float) -> str | None:
        # inferred: DescribeServices' currentServiceDeployment lags a new deployment until virtual time moves on,
        # so clients learn not to trust it alone (the issue says ECS's can be stale).
        shown = [d for d in self.of_service(key) if d.created_at < now]
        return shown[-1].arn if shown else None

    def forget_service(self, key: str) -> None:
        """Documented: ECS deletes a service's deployments with the service."""
        for deployment in self.of_service(key):
            del self.deployments[deployment.arn]


class ServiceDeploymentError(Exception):
    """An ECS error answer: `code` is the botocore error shape name (ECS's JSON `__type`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
