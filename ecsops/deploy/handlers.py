"""The deploy machine's state handlers: each reads the run and AWS, decides, and returns its trigger."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ecsops.aws.ecs import EcsGateway, EcsNotFound, TaskDefinitionNotFound, short_name
from ecsops.aws.elbv2 import Elbv2Gateway
from ecsops.deploy.changes import DeployChanges, primary_deployment, tagged_with_run_id
from ecsops.deploy.facts import DeployFacts
from ecsops.deploy.flags import EditError
from ecsops.deploy.params import DeployParams
from ecsops.deploy.taskdef_diff import describe_changes
from ecsops.deploy.taskdef_edit import apply_edits, has_changes, register_request_from
from ecsops.deploy.verdict import Verdict
from ecsops.deploy.wait import DeploymentFollower
from machines.context import RunContext
from machines.durations import format_duration
from machines.errors import StepFailed

Context = RunContext[DeployFacts]
Handler = Callable[[Context], str]
ROLLBACK_DEADLINE = "rollback"


def deployment_record(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-safe facts of a deployment worth recording."""
    return {
        "id": deployment.get("id"),
        "status": deployment.get("status"),
        "taskDefinition": deployment.get("taskDefinition"),
        "desiredCount": deployment.get("desiredCount"),
        "rolloutState": deployment.get("rolloutState"),
    }


def someone_elses_primary(
    service: Mapping[str, Any], trusted: str | None, known: set[str], requested_task_definition: str
) -> Mapping[str, Any] | None:
    """The service's PRIMARY deployment if another deploy made it, before we send UpdateService.

    Not someone else's: `trusted` (the PRIMARY we expect), or a deployment on the task definition we
    request that was not among `known` (listed before our call): our own call, made before a crash.
    """
    primary = primary_deployment(service)
    if not primary or primary.get("id") == trusted:
        return None
    if primary.get("id") not in known and primary.get("taskDefinition") == requested_task_definition:
        return None
    return primary


def _taken_over_reason(primary: Mapping[str, Any], what: str) -> str:
    return (f"deployment {primary.get('id')} ({short_name(str(primary.get('taskDefinition')))}) became PRIMARY "
            f"before {what}: someone else deployed; not deploying over it")


class DeployHandlers:
    """One instance per process driving a deploy run; in memory only its follower's seen events."""

    def __init__(self, params: DeployParams, ecs: EcsGateway, elbv2: Elbv2Gateway) -> None:
        self.params = params
        self.ecs = ecs
        self.elbv2 = elbv2
        self.changes = DeployChanges(ecs, params.cluster, params.service)
        self.follower = DeploymentFollower(params, ecs, elbv2)

    def mapping(self) -> dict[str, Handler]:
        return {
            "planned": self.planned,
            "snapshotted": self.snapshotted,
            "registering": self.registering,
            "updating": self.updating,
            "waiting": self.waiting,
            "rolling_back": self.rolling_back,
            "ecs_rolling_back": self.ecs_rolling_back,
        }

    # ---- planned: capture the rollback target ---------------------------------------------------
    def planned(self, ctx: Context) -> str:
        p = self.params
        try:
            service = self.ecs.describe_service(p.cluster, p.service)
        except EcsNotFound as exc:
            ctx.set_reason(f"nothing was changed: {exc.message}")
            return "fail"
        if ctx.facts.rollback_target is not None:
            return "snapshot"  # captured before a crash; the service has not been changed since
        load_balancers = service.get("loadBalancers") or []
        target_group = next((lb["targetGroupArn"] for lb in load_balancers if lb.get("targetGroupArn")), None)
        initial_targets: list[str] = []
        if p.wait_until == "draining-started" and target_group:
            initial_targets = [t.key for t in self.elbv2.describe_target_health(target_group)]
        ctx.record(
            rollback_target={
                "task_definition": service["taskDefinition"],
                "desired_count": int(service["desiredCount"]),
                "deployments": [deployment_record(d) for d in service.get("deployments", [])],
            },
            previous_task_definition=service["taskDefinition"],
            previous_desired_count=int(service["desiredCount"]),
            target_group=target_group,
            initial_targets=initial_targets,
        )
        ctx.progress(
            f"rollback target: {short_name(service['taskDefinition'])}, desired count {service['desiredCount']}"
        )
        return "snapshot"

    # ---- snapshotted: decide what to register -----------------------------------------------------
    def snapshotted(self, ctx: Context) -> str:
        p = self.params
        rollback_target = ctx.facts.target()
        try:
            task_definition, tags = self.ecs.describe_task_definition(p.taskdef or rollback_target.task_definition)
        except TaskDefinitionNotFound as exc:
            ctx.set_reason(f"nothing was changed: {exc.message}")
            return "fail"
        base = str(task_definition["taskDefinitionArn"])
        before = register_request_from(task_definition, tags)
        try:
            after = apply_edits(before, p.edits)
        except EditError as exc:
            ctx.set_reason(f"nothing was changed: {exc}")
            return "fail"
        for line in describe_changes(before, after, rollback_target.desired_count, p.desired_count):
            ctx.progress(line)
        if not has_changes(before, after):
            ctx.record(base_task_definition=base, new_task_definition=base, registered_revision=False)
            ctx.progress(f"task definition unchanged: deploying {short_name(base)} again, no new revision")
            return "reuse"
        # The run id tag lets a resumed run find the revision it registered; decided after has_changes.
        request = tagged_with_run_id(after, ctx.run_id)
        ctx.record(base_task_definition=base, register_request=request)
        return "register"

    # ---- registering -----------------------------------------------------------------------------
    def registering(self, ctx: Context) -> str:
        request = ctx.facts.register_request or {}
        try:
            result = self.changes.register_task_definition(ctx, request)
        except StepFailed as exc:
            ctx.set_reason(f"RegisterTaskDefinition refused ({exc.code}: {exc.error.get('message')}); "
                       "the service was not changed")
            return "fail"
        ctx.record(new_task_definition=result["taskDefinitionArn"], registered_revision=True)
        ctx.progress(f"registered {short_name(result['taskDefinitionArn'])}")
        return "registered"

    # ---- updating --------------------------------------------------------------------------------
    def updating(self, ctx: Context) -> str:
        p = self.params
        facts = ctx.facts
        request = self.changes.update_request(str(facts.new_task_definition), p.desired_count)
        known = facts.target().deployment_ids
        trusted = facts.target().primary_id
        try:
            service = self.ecs.describe_service(p.cluster, p.service)
        except EcsNotFound as exc:
            ctx.set_reason(f"the service was not changed: {exc.message}")
            return "fail"
        other = someone_elses_primary(service, trusted, known, request["taskDefinition"])
        if other is not None:
            ctx.set_reason(_taken_over_reason(other, "our update; the service was not changed by this run"))
            return "superseded"
        try:
            result = self.changes.update_service(ctx, "update_service", request, known)
        except StepFailed as exc:
            ctx.set_reason(f"UpdateService refused ({exc.code}: {exc.error.get('message')}); "
                       "the service was not changed")
            return "fail"
        ctx.record(deployment_id=result["deployment_id"])
        ctx.progress(f"deployment {result['deployment_id']} started on {short_name(result['task_definition'])}")
        return "updated"

    # ---- waiting ---------------------------------------------------------------------------------
    def waiting(self, ctx: Context) -> str:
        p = self.params
        deployment_id = str(ctx.facts.deployment_id)
        rollback_target = ctx.facts.target()
        watch = self.follower.follow(
            ctx, deployment_id, "deploy", p.timeout_seconds, rollback_target.task_definition,
            p.wait_until == "draining-started",
        )
        if watch.verdict is Verdict.STABLE:
            return "stable"
        if watch.verdict is Verdict.SUPERSEDED:
            ctx.set_reason(watch.reason)
            return "superseded"
        if watch.verdict is Verdict.ECS_ROLLED_BACK:
            ctx.record(rollback_cause=watch.reason, ecs_rollback_deployment_id=watch.primary_id)
            return "ecs_rolled_back"
        if watch.verdict is Verdict.FAILED:
            cause, trigger = watch.reason, "deploy_failed"
        else:
            cause = (f"deployment {deployment_id} did not finish within {format_duration(p.timeout_seconds)} "
                     f"(last seen: {watch.summary})")
            trigger = "timed_out"
        if p.no_rollback:
            previous = short_name(rollback_target.task_definition)
            ctx.set_reason(
                f"{cause}; --no-rollback: deployment {deployment_id} is left as it is. To roll back: ecsops deploy "
                f"--cluster {p.cluster} --service {p.service} --taskdef {previous} "
                f"--desired-count {rollback_target.desired_count}"
            )
            return "gave_up"
        ctx.record(rollback_cause=cause)
        ctx.progress(f"{cause}; rolling back")
        return trigger

    # ---- rolling back ----------------------------------------------------------------------------
    def rolling_back(self, ctx: Context) -> str:
        p = self.params
        ctx.deadline(ROLLBACK_DEADLINE, p.rollback_budget_seconds)  # the rollback's budget runs from here
        facts = ctx.facts
        rollback_target = facts.target()
        cause = facts.rollback_cause or "the deploy failed"
        previous = short_name(rollback_target.task_definition)
        try:
            service = self.ecs.describe_service(p.cluster, p.service)
        except EcsNotFound as exc:
            ctx.set_reason(f"{cause}; cannot roll back: {exc.message}")
            return "rollback_failed"
        if facts.rollback_known_deployments is None:
            ctx.record(rollback_known_deployments=[str(d.get("id")) for d in service.get("deployments", [])])
        known = set(ctx.facts.rollback_known_deployments or ())
        request = self.changes.update_request(rollback_target.task_definition, rollback_target.desired_count)
        # Checked on every entry: a resumed run must not roll back over a deploy made while it was down.
        other = someone_elses_primary(service, facts.deployment_id, known, request["taskDefinition"])
        if other is not None:
            ctx.set_reason(f"{cause}; {_taken_over_reason(other, 'our rollback')}")
            return "superseded"
        try:
            result = self.changes.update_service(ctx, "rollback_update_service", request, known)
        except StepFailed as exc:
            ctx.set_reason(self._rollback_failed_reason(
                cause, f"UpdateService back to {previous} was refused ({exc.code}: {exc.error.get('message')})"
            ))
            return "rollback_failed"
        ctx.record(rollback_deployment_id=result["deployment_id"])
        ctx.progress(f"rollback deployment {result['deployment_id']} started on {previous}")
        return self._finish_rollback(ctx, result["deployment_id"], cause, f"rolled back to {previous}")

    def ecs_rolling_back(self, ctx: Context) -> str:
        ctx.deadline(ROLLBACK_DEADLINE, self.params.rollback_budget_seconds)
        cause = ctx.facts.rollback_cause or "the deployment failed"
        deployment_id = str(ctx.facts.ecs_rollback_deployment_id)
        return self._finish_rollback(ctx, deployment_id, cause, "ECS's circuit breaker rollback finished")

    def _finish_rollback(self, ctx: Context, deployment_id: str, cause: str, done: str) -> str:
        rollback_target = ctx.facts.target()
        watch = self.follower.follow(
            ctx, deployment_id, ROLLBACK_DEADLINE, self.params.rollback_budget_seconds, None, False
        )
        if watch.verdict is Verdict.STABLE:
            ctx.set_reason(
                f"{cause}; {done}: {short_name(rollback_target.task_definition)} with desired count "
                f"{rollback_target.desired_count} is running again"
            )
            return "rollback_done"
        if watch.verdict is Verdict.SUPERSEDED:
            ctx.set_reason(f"{cause}; during the rollback {watch.reason}")
            return "superseded"
        if watch.verdict is Verdict.FAILED:
            what = f"rollback deployment {deployment_id} failed too ({watch.reason})"
        else:
            what = (f"rollback deployment {deployment_id} did not finish within "
                    f"{format_duration(self.params.rollback_budget_seconds)} (--rollback-timeout)")
        ctx.set_reason(self._rollback_failed_reason(cause, what, watch.summary))
        return "rollback_failed"

    def _rollback_failed_reason(self, cause: str, what: str, summary: str | None = None) -> str:
        p = self.params
        state = f"the service's deployments now: {summary}. " if summary else ""
        return (
            f"{cause}; {what}. {state}The service needs a person: read its events "
            f"(aws ecs describe-services --cluster {p.cluster} --services {p.service}), fix the cause "
            "(image, capacity, health checks), then deploy a known-good task definition with "
            f"ecsops deploy --cluster {p.cluster} --service {p.service} --taskdef FAMILY:REV"
        )
