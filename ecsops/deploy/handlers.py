"""The deploy machine's state handlers: each reads the run and AWS, decides, and returns its trigger."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ecsops.aws.ecs import EcsGateway, EcsNotFound, TaskDefinitionNotFound, short_name
from ecsops.aws.elbv2 import Elbv2Gateway
from ecsops.deploy.changes import DeployChanges, primary_deployment, tagged_with_run_id
from ecsops.deploy.facts import DeployFacts
from ecsops.deploy.flags import EditError
from ecsops.deploy.native_handlers import NativeDeploy
from ecsops.deploy.params import DeployParams
from ecsops.deploy.service_deployment_wait import ServiceDeploymentFollower
from ecsops.deploy.snapshot import ServiceSnapshot, snapshot_of
from ecsops.deploy.task_failures import with_headline
from ecsops.deploy.taskdef_diff import describe_changes
from ecsops.deploy.taskdef_edit import apply_edits, has_changes, register_request_from
from ecsops.deploy.verdict import Verdict, Watch, circuit_breaker_rolls_back
from ecsops.deploy.wait import DeploymentFollower
from machines.context import RunContext
from machines.durations import format_duration
from machines.errors import StepFailed
from store.clock import utc_now_iso

Context = RunContext[DeployFacts]
Handler = Callable[[Context], str]
ROLLBACK_DEADLINE = "rollback"


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


def _ecs_rolls_back(
    service: Mapping[str, Any], primary: Mapping[str, Any], rollback_task_definition: str, ours_id: str | None
) -> bool:
    """Is `primary` ECS's circuit-breaker rollback of our failed deployment `ours_id`? As in the wait's verdict:
    back on the previous task definition with a breaker that rolls back, and ours FAILED, or already gone
    (ECS drops the failed deployment once its rollback completed)."""
    ours = next((d for d in service.get("deployments", []) if d.get("id") == ours_id), None)
    return (
        primary.get("taskDefinition") == rollback_task_definition
        and circuit_breaker_rolls_back(service)
        and (ours is None or ours.get("rolloutState") == "FAILED")
    )


def _taken_over_reason(primary: Mapping[str, Any], what: str) -> str:
    return (f"deployment {primary.get('id')} ({short_name(str(primary.get('taskDefinition')))}) became PRIMARY "
            f"before {what}: someone else deployed; not deploying over it")


@dataclass(frozen=True)
class RollbackStarted:
    """A rollback under way: the deployment to follow, why we roll back, and what to say when it is done."""

    deployment_id: str
    cause: str
    done: str


class RetryNotices:
    """Where botocore's retries inside one call are said: the progress of the handler running now."""

    def __init__(self) -> None:
        self.say: Callable[[str], None] = lambda message: None

    def __call__(self, message: str) -> None:
        self.say(message)


class DeployHandlers:
    """One instance per process driving a deploy run.

    In memory only: the drive (RunContext) that recorded the snapshot from preflight's reads made by this
    process. Until that drive ends, nothing can have happened to the service that this process did not
    see moments ago, so `updating` need not read the service again before UpdateService.
    """

    def __init__(
        self,
        params: DeployParams,
        ecs: EcsGateway,
        elbv2: Elbv2Gateway,
        poll_ecs: EcsGateway | None = None,
        notices: RetryNotices | None = None,
    ) -> None:
        self.params = params
        self.ecs = ecs
        self.elbv2 = elbv2
        self.notices = notices or RetryNotices()
        self.changes = DeployChanges(ecs, params.cluster, params.service)
        self.follower = DeploymentFollower(params, poll_ecs or ecs, elbv2)
        self.native = NativeDeploy(params, ecs, ServiceDeploymentFollower(params, poll_ecs or ecs, self.follower))
        self._fresh_snapshot_drive: Context | None = None

    def mapping(self) -> dict[str, Handler]:
        handlers: dict[str, Handler] = {
            "planned": self.planned,
            "queued": self.native.queued,
            "snapshotted": self.snapshotted,
            "registering": self.registering,
            "updating": self.updating,
            "waiting": self.waiting,
            "binding": self.native.binding,
            "following": self.native.following,
            "paused": self.native.paused,
            "stopping": self.native.stopping,
            "rolling_back": self.rolling_back,
            "ecs_rolling_back": self.ecs_rolling_back,
        }
        return {state: self._saying_retries(handler) for state, handler in handlers.items()}

    def _saying_retries(self, handler: Handler) -> Handler:
        def run(ctx: Context) -> str:
            self.notices.say = ctx.progress
            return handler(ctx)

        return run

    # ---- planned: capture the rollback target ---------------------------------------------------
    def _preflight_snapshot(self, ctx: Context) -> ServiceSnapshot | None:
        """Preflight's reads, unless the run waited for another deployment since: then they are stale."""
        return None if ctx.facts.queue_cleared else self.params.snapshot

    def planned(self, ctx: Context) -> str:
        p = self.params
        if ctx.facts.rollback_target is not None:
            return "snapshot"  # captured before a crash; the service has not been changed since
        snapshot = self._preflight_snapshot(ctx)
        if snapshot is not None and snapshot.strategy.native and snapshot.unfinished_service_deployments:
            ctx.record(strategy=snapshot.strategy.strategy, strategy_plan=snapshot.strategy,
                       waited_for=snapshot.unfinished_service_deployments)
            ctx.progress(f"another deployment of the service is in progress "
                         f"({', '.join(a.rsplit('/', 1)[-1] for a in snapshot.unfinished_service_deployments)}): "
                         "waiting for it to end before changing anything")
            return "queue"
        if snapshot is None:
            # A run recorded without preflight's reads: read the service now.
            try:
                service = self.ecs.describe_service(p.cluster, p.service)
            except EcsNotFound as exc:
                ctx.set_reason(f"nothing was changed: {exc.message}")
                return "fail"
            snapshot = snapshot_of(service, str(service["taskDefinition"]), {}, None, utc_now_iso())
        initial_targets: list[str] = []
        if p.wait_until == "draining-started" and snapshot.target_group:
            initial_targets = [t.key for t in self.elbv2.describe_target_health(snapshot.target_group)]
        ctx.record(
            rollback_target={
                "task_definition": snapshot.task_definition,
                "desired_count": snapshot.desired_count,
                "deployments": snapshot.deployments,
            },
            snapshot_read_at=snapshot.read_at,
            previous_task_definition=snapshot.task_definition,
            previous_desired_count=snapshot.desired_count,
            target_group=snapshot.target_group,
            initial_targets=initial_targets,
            event_watermark=snapshot.newest_event_id,
            strategy=snapshot.strategy.strategy,
            strategy_plan=snapshot.strategy,
        )
        if snapshot.read_here:
            self._fresh_snapshot_drive = ctx
        source = "preflight's reads" if self._preflight_snapshot(ctx) is not None else "DescribeServices"
        ctx.progress(f"rollback target: {short_name(snapshot.task_definition)}, desired count "
                     f"{snapshot.desired_count} (from {source})")
        return "snapshot"

    # ---- snapshotted: decide what to register -----------------------------------------------------
    def snapshotted(self, ctx: Context) -> str:
        p = self.params
        rollback_target = ctx.facts.target()
        running = rollback_target.task_definition
        try:
            snapshot = self._preflight_snapshot(ctx)
            base, before = self._base(p.taskdef or running, snapshot)
            # --taskdef naming another task definition: the diff starts from what runs, not from the base.
            current = before if base == running else self._running_request(running, snapshot)
        except TaskDefinitionNotFound as exc:
            ctx.set_reason(f"nothing was changed: {exc.message}")
            return "fail"
        try:
            after = apply_edits(before, p.edits)
        except EditError as exc:
            ctx.set_reason(f"nothing was changed: {exc}")
            return "fail"
        switching = f"switching {short_name(running)} -> {short_name(base)}" if base != running else None
        if switching:
            ctx.progress(switching)
        for line in describe_changes(current, after, rollback_target.desired_count, p.desired_count):
            ctx.progress(line)
        if not has_changes(before, after):
            ctx.record(base_task_definition=base, new_task_definition=base, registered_revision=False)
            if switching:
                ctx.progress(f"deploying {short_name(base)} as it is, no new revision")
            else:
                ctx.progress(f"task definition unchanged: deploying {short_name(base)} again, no new revision")
            return "reuse"
        # The run id tag lets a resumed run find the revision it registered; decided after has_changes.
        request = tagged_with_run_id(after, ctx.run_id)
        ctx.record(base_task_definition=base, register_request=request)
        return "register"

    def _base(self, reference: str, snapshot: ServiceSnapshot | None) -> tuple[str, dict[str, Any]]:
        """(ARN, register request) of the task definition to edit: preflight's read (task definitions never
        change once registered), else DescribeTaskDefinition."""
        if snapshot is not None and snapshot.base_request:
            return snapshot.base_task_definition, snapshot.base_request
        task_definition, tags = self.ecs.describe_task_definition(reference)
        return str(task_definition["taskDefinitionArn"]), register_request_from(task_definition, tags)

    def _running_request(self, running: str, snapshot: ServiceSnapshot | None) -> dict[str, Any]:
        if snapshot is not None and snapshot.running_request is not None and snapshot.task_definition == running:
            return snapshot.running_request
        task_definition, tags = self.ecs.describe_task_definition(running)
        return register_request_from(task_definition, tags)

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
        # Read the service again only if this run may have been down since its snapshot (resumed, or the
        # snapshot came from another process): someone may have deployed meanwhile.
        if self._fresh_snapshot_drive is not ctx:
            try:
                service = self.ecs.describe_service(p.cluster, p.service)
            except EcsNotFound as exc:
                ctx.set_reason(f"the service was not changed: {exc.message}")
                return "fail"
            other = someone_elses_primary(service, trusted, known, request["taskDefinition"])
            if other is not None:
                ctx.set_reason(_taken_over_reason(other, "our update; the service was not changed by this run"))
                return "superseded"
        native = bool(facts.strategy_plan and facts.strategy_plan.native)
        if native:
            fresh = self._fresh_snapshot_drive is ctx and not facts.queue_cleared
            self.native.before_update(ctx, self.params.snapshot if fresh else None)
        try:
            result = self.changes.update_service(ctx, "update_service", request, known)
        except StepFailed as exc:
            ctx.set_reason(f"UpdateService refused ({exc.code}: {exc.error.get('message')}); "
                       "the service was not changed")
            return "fail"
        ctx.record(deployment_id=result["deployment_id"])
        ctx.progress(f"deployment {result['deployment_id']} started on {short_name(result['task_definition'])}")
        return "started" if native else "updated"

    # ---- waiting ---------------------------------------------------------------------------------
    def waiting(self, ctx: Context) -> str:
        p = self.params
        watch = self.follower.follow(
            ctx, str(ctx.facts.deployment_id), "deploy", p.timeout_seconds, ctx.facts.target().task_definition,
            p.wait_until == "draining-started",
        )
        return self.waiting_verdict(ctx, watch)

    def waiting_verdict(self, ctx: Context, watch: Watch) -> str:
        """The trigger `waiting` fires for the last look at our deployment: a verdict, or IN_PROGRESS at the
        deadline (timed out). deploy-fleet calls it with the look of its own batched poll."""
        p = self.params
        deployment_id = str(ctx.facts.deployment_id)
        rollback_target = ctx.facts.target()
        if watch.verdict is Verdict.STABLE:
            ctx.set_reason(f"{watch.reason} (deployment {deployment_id}: {watch.summary})"
                           if p.wait_until == "draining-started" else watch.reason)
            return "stable"
        if watch.verdict is Verdict.SUPERSEDED:
            ctx.set_reason(watch.reason)
            return "superseded"
        if watch.verdict is Verdict.ECS_ROLLED_BACK:
            cause = self._with_task_failures(ctx, watch.reason, deployment_id)
            ctx.record(rollback_cause=cause, ecs_rollback_deployment_id=watch.primary_id)
            return "ecs_rolled_back"
        if watch.verdict is Verdict.FAILED:
            cause, trigger = watch.reason, "deploy_failed"
        else:
            cause = (f"deployment {deployment_id} did not finish within {format_duration(p.timeout_seconds)} "
                     f"(last seen: {watch.summary})")
            trigger = "timed_out"
        cause = self._with_task_failures(ctx, cause, deployment_id)
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

    @staticmethod
    def _with_task_failures(ctx: Context, cause: str, deployment_id: str) -> str:
        return with_headline(cause, ctx.facts.task_failures.get(deployment_id))

    # ---- rolling back ----------------------------------------------------------------------------
    def rolling_back(self, ctx: Context) -> str:
        begun = self.begin_rollback(ctx)
        if isinstance(begun, str):
            return begun
        return self._finish_rollback(ctx, begun)

    def begin_rollback(self, ctx: Context) -> str | RollbackStarted:
        """Send (once) the UpdateService back to the rollback target, or find ECS's own rollback already under
        way: the rollback to follow, or the trigger when there is nothing to follow (refused, superseded)."""
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
        if other is not None and _ecs_rolls_back(service, other, rollback_target.task_definition, facts.deployment_id):
            # Our failure limit and ECS's circuit breaker fired together, and ECS sent its rollback first.
            ctx.record(ecs_rollback_deployment_id=str(other.get("id")))
            ctx.progress(f"ECS's circuit breaker is already rolling back ({other.get('id')}); following it")
            return RollbackStarted(str(other.get("id")), cause, "ECS's circuit breaker rollback finished")
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
        return RollbackStarted(result["deployment_id"], cause, f"rolled back to {previous}")

    def rollback_in_progress(self, ctx: Context) -> RollbackStarted | None:
        """The rollback a resumed or re-entered `rolling_back` follows, once begun (recorded), else None."""
        facts = ctx.facts
        cause = facts.rollback_cause or "the deploy failed"
        if facts.rollback_deployment_id is not None:
            return RollbackStarted(facts.rollback_deployment_id, cause,
                                   f"rolled back to {short_name(facts.target().task_definition)}")
        if facts.ecs_rollback_deployment_id is not None:
            return RollbackStarted(facts.ecs_rollback_deployment_id, cause, "ECS's circuit breaker rollback finished")
        return None

    def ecs_rolling_back(self, ctx: Context) -> str:
        if ctx.facts.service_deployment_arn is not None:
            return self.native.ecs_rolling_back(ctx)
        return self._finish_rollback(ctx, self.ecs_rollback(ctx))

    def ecs_rollback(self, ctx: Context) -> RollbackStarted:
        """ECS's circuit-breaker rollback of our deployment, to follow (its deadline fixed from the first call)."""
        ctx.deadline(ROLLBACK_DEADLINE, self.params.rollback_budget_seconds)
        cause = ctx.facts.rollback_cause or "the deployment failed"
        return RollbackStarted(str(ctx.facts.ecs_rollback_deployment_id), cause,
                               "ECS's circuit breaker rollback finished")

    def _finish_rollback(self, ctx: Context, rollback: RollbackStarted) -> str:
        watch = self.follower.follow(
            ctx, rollback.deployment_id, ROLLBACK_DEADLINE, self.params.rollback_budget_seconds, None, False
        )
        return self.rollback_verdict(ctx, rollback, watch)

    def rollback_verdict(self, ctx: Context, rollback: RollbackStarted, watch: Watch) -> str:
        """The trigger a rollback's last look (a verdict, or IN_PROGRESS at its deadline) fires."""
        rollback_target = ctx.facts.target()
        deployment_id, cause, done = rollback.deployment_id, rollback.cause, rollback.done
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
        what = self._with_task_failures(ctx, what, deployment_id)
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
