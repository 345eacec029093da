"""The deploy states of BLUE_GREEN, LINEAR and CANARY services: queue, bind, follow, pause, stop (roll back)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecsops.aws.ecs import UNFINISHED_SERVICE_DEPLOYMENT_STATUSES, EcsGateway, short_name
from ecsops.deploy.facts import DeployFacts
from ecsops.deploy.params import DeployParams
from ecsops.deploy.service_deployment_verdict import Phase, look_at, trigger
from ecsops.deploy.service_deployment_wait import Followed, ServiceDeploymentFollower, paused_lines
from ecsops.deploy.snapshot import ServiceSnapshot
from ecsops.deploy.task_failures import with_headline
from machines.context import RunContext
from machines.durations import format_duration
from machines.errors import Paused, StepFailed
from machines.steps import NOT_HAPPENED, Reconciled

Context = RunContext[DeployFacts]
ROLLBACK_DEADLINE = "rollback"
DEPLOY_DEADLINE = "deploy"
# Our service deployment is looked for among those created after the time taken before UpdateService, less
# this margin: the host's clock and AWS's may disagree. Deployments listed before the call are excluded.
CLOCK_SKEW_MARGIN = 300.0
BIND_POLL_INTERVAL = 2.0
QUEUE_POLL_INTERVAL = 15.0


def short_arn(arn: str) -> str:
    """The id at the end of a service deployment ARN, for people."""
    return arn.rsplit("/", 1)[-1]


class NativeDeploy:
    """Handlers of the states a deploy takes when ECS runs the deployment itself, as service revisions."""

    def __init__(self, params: DeployParams, ecs: EcsGateway, follower: ServiceDeploymentFollower) -> None:
        self.params = params
        self.ecs = ecs
        self.follower = follower

    # ---- queued: someone else's deployment is in progress ---------------------------------------
    def queued(self, ctx: Context) -> str:
        """Wait (against --timeout) until the service has no unfinished service deployment, then snapshot
        afresh: that deployment may have changed what runs, and so what a rollback restores."""
        said = float("-inf")
        while True:
            trigger, waiting = self.queue_look(ctx)
            if trigger is not None:
                return trigger
            now = ctx.now()
            if now - said >= 60.0:
                said = now
                ctx.progress(waiting)
            deadline = ctx.deadline(DEPLOY_DEADLINE, self.params.timeout_seconds)
            ctx.sleep(min(QUEUE_POLL_INTERVAL, max(0.0, deadline - now)))

    def queue_look(self, ctx: Context) -> tuple[str | None, str]:
        """One ListServiceDeployments: the trigger once the turn came (or --timeout passed), else None and what is
        awaited, for people."""
        p = self.params
        deadline = ctx.deadline(DEPLOY_DEADLINE, p.timeout_seconds)
        unfinished = self.ecs.list_service_deployments(
            p.cluster, p.service, statuses=UNFINISHED_SERVICE_DEPLOYMENT_STATUSES
        )
        if not unfinished:
            ctx.record(queue_cleared=True)
            ctx.progress("no other deployment in progress: taking the snapshot now")
            return "turn_came", ""
        arns = [str(b.get("serviceDeploymentArn")) for b in unfinished]
        ctx.record(waited_for=sorted(set(ctx.facts.waited_for) | set(arns)))
        now = ctx.now()
        if now >= deadline:
            ctx.set_reason(
                f"nothing was changed: another deployment ({', '.join(short_arn(a) for a in arns)}, "
                f"{unfinished[0].get('status')}) was still in progress after "
                f"{format_duration(p.timeout_seconds)} (--timeout)"
            )
            return "fail", ""
        return None, (f"waiting for another deployment to end before deploying: "
                      f"{', '.join(short_arn(a) for a in arns)} ({unfinished[0].get('status')}); "
                      f"{format_duration(deadline - now)} left")

    # ---- updating: what the update step needs -------------------------------------------------------
    def before_update(self, ctx: Context, fresh_snapshot: ServiceSnapshot | None) -> None:
        """Take the time, and the service deployments listed, before UpdateService (committed with its intent).
        `fresh_snapshot`: preflight's reads, when this process made them and has driven the run since."""
        if ctx.facts.update_requested_at is not None:
            return  # a resumed run keeps the time taken before its first attempt
        p = self.params
        if fresh_snapshot is not None:
            known = set(fresh_snapshot.service_deployments)  # listed moments ago by this very process
        else:
            briefs = self.ecs.list_service_deployments(
                p.cluster, p.service, created_after=ctx.now() - CLOCK_SKEW_MARGIN
            )
            known = {str(b.get("serviceDeploymentArn")) for b in briefs}
        ctx.record(
            update_requested_at=ctx.now(),
            known_service_deployments=sorted(known | set(ctx.facts.known_service_deployments)),
        )

    # ---- binding: which service deployment is ours ----------------------------------------------------
    def binding(self, ctx: Context) -> str:
        while True:
            trigger = self.bind_look(ctx)
            if trigger is not None:
                return trigger
            ctx.sleep(BIND_POLL_INTERVAL)

    def bind_look(self, ctx: Context) -> str | None:
        """One look for our service deployment: `bound` once found (the step records it), `unbound` when --timeout
        passed without it, else None."""
        facts = ctx.facts
        deadline = ctx.deadline(DEPLOY_DEADLINE, self.params.timeout_seconds)
        request = {
            "task_definition": facts.new_task_definition,
            "created_after": (facts.update_requested_at or ctx.now()) - CLOCK_SKEW_MARGIN,
            "known": facts.known_service_deployments,
        }
        found = self._find_ours(request)
        if found is None and ctx.now() < deadline:
            return None
        if found is None:
            ctx.set_reason(
                f"UpdateService was sent (deployment {facts.deployment_id}) but ECS lists no service deployment "
                f"of {short_name(str(facts.new_task_definition))} within {format_duration(self.params.timeout_seconds)}"
                f"; check the service: aws ecs list-service-deployments --cluster {self.params.cluster} "
                f"--service {self.params.service}"
            )
            return "unbound"

        def reconcile(step: Any) -> Reconciled:
            again = self._find_ours(step.request)
            return Reconciled(happened=True, result=again) if again is not None else NOT_HAPPENED

        result = ctx.step("bind_service_deployment", request, lambda _: found, reconcile=reconcile)
        arn = str(result["service_deployment_arn"])
        ctx.record(service_deployment_arn=arn)
        ctx.progress(f"following service deployment {short_arn(arn)} ({ctx.facts.strategy})")
        return "bound"

    def _find_ours(self, request: Mapping[str, Any]) -> dict[str, Any] | None:
        """The newest service deployment created after the request's time, not known before our UpdateService,
        whose target revision runs our task definition. currentServiceDeployment alone is not trusted: it can
        name the previous deployment for a while."""
        p = self.params
        known = set(request.get("known") or ())
        briefs = [
            b for b in self.ecs.list_service_deployments(p.cluster, p.service, created_after=request["created_after"])
            if b.get("serviceDeploymentArn") not in known and b.get("targetServiceRevisionArn")
        ]
        if not briefs:
            return None
        revisions = {
            str(r.get("serviceRevisionArn")): r
            for r in self.ecs.describe_service_revisions([str(b["targetServiceRevisionArn"]) for b in briefs])
        }
        ours = [
            b for b in briefs
            if (revisions.get(str(b["targetServiceRevisionArn"])) or {}).get("taskDefinition")
            == request["task_definition"]
        ]
        if not ours:
            return None
        newest = max(ours, key=lambda b: str(b.get("createdAt")))
        return {
            "service_deployment_arn": newest["serviceDeploymentArn"],
            "target_service_revision_arn": newest["targetServiceRevisionArn"],
        }

    # ---- following -----------------------------------------------------------------------------------
    def following(self, ctx: Context) -> str:
        followed = self.follower.follow(
            ctx, str(ctx.facts.service_deployment_arn), DEPLOY_DEADLINE, self.params.timeout_seconds,
            until_paused=True, failure_limit=self.failure_limit(ctx),
        )
        return self.following_verdict(ctx, followed)

    def following_verdict(self, ctx: Context, followed: Followed) -> str:
        """The trigger `following` fires for the last look at our service deployment: a verdict, a pause, or still
        in progress at the deadline (timed out). A fleet calls it with the look of its batched poll."""
        p = self.params
        arn = str(ctx.facts.service_deployment_arn)
        limit = self.failure_limit(ctx)
        look, deployment = followed.look, followed.deployment
        if look is not None and limit and look.phase is Phase.IN_PROGRESS and look.failure_count >= limit:
            cause = self._with_task_failures(
                ctx, f"service deployment {short_arn(arn)} failed: {look.failure_count} failed tasks of the new "
                f"revision reached the limit of {limit}"
            )
            if p.no_rollback:
                ctx.set_reason(f"{cause}; --no-rollback: ECS's deployment {short_arn(arn)} is left running as it is")
                return "gave_up"
            ctx.record(rollback_cause=cause)
            ctx.progress(f"{cause}; rolling back with StopServiceDeployment")
            return "deploy_failed"
        if look is not None and deployment is not None:
            if look.phase is Phase.PAUSED:
                hook = look.awaiting_hook or {}
                ctx.record(paused_since=ctx.now(), paused_hook_id=hook.get("hookId"))
                return "hook_paused"
            if look.phase is Phase.SUCCESSFUL:
                ctx.set_reason(f"service deployment {short_arn(arn)} ({ctx.facts.strategy}) finished SUCCESSFUL "
                               f"after its bake time: {short_name(str(ctx.facts.new_task_definition))} serves the "
                               "production traffic")
                return "stable"
            if look.phase in (Phase.ROLLING_BACK, Phase.ROLLED_BACK, Phase.ROLLBACK_FAILED):
                why = trigger(deployment, ctx.facts.stage_seen)
                cause = self._with_task_failures(ctx, f"ECS rolled back service deployment {short_arn(arn)} ({why})")
                ctx.record(rollback_cause=cause)
                ctx.progress(cause)
                return "ecs_rolled_back"
            if look.phase is Phase.STOPPED:
                return self._stopped(ctx, deployment, None)
        last = look.summary if look is not None else "(no answer from ECS yet)"
        cause = self._with_task_failures(
            ctx, f"service deployment {short_arn(arn)} did not finish within {format_duration(p.timeout_seconds)} "
            f"(last seen: {last})"
        )
        if p.no_rollback:
            ctx.set_reason(
                f"{cause}; --no-rollback: ECS's deployment {short_arn(arn)} is left running as it is. To roll it back: "
                f"aws ecs stop-service-deployment --service-deployment-arn {arn} --stop-type ROLLBACK"
            )
            return "gave_up"
        ctx.record(rollback_cause=cause)
        ctx.progress(f"{cause}; rolling back with StopServiceDeployment")
        return "timed_out"

    def failure_limit(self, ctx: Context) -> int | None:
        """When failed tasks of the new revision fail the deploy: at --max-failed-tasks when given; otherwise at
        ECS's threshold only if the service's circuit breaker is off (when on, ECS fails and rolls back itself)."""
        p = self.params
        if p.max_failed_tasks is not None:
            return p.max_failed_tasks or None
        target, plan = ctx.facts.rollback_target, ctx.facts.strategy_plan
        if target is None or plan is None or plan.circuit_breaker:
            return None
        return p.failure_limit(p.desired_count if p.desired_count is not None else target.desired_count)

    def _stopped(self, ctx: Context, deployment: Mapping[str, Any], cause: str | None) -> str:
        """STOPPED: superseded when a newer deployment of the service exists, else failed, naming who stopped it."""
        p = self.params
        arn = str(deployment.get("serviceDeploymentArn"))
        created = deployment.get("createdAt")
        briefs = self.ecs.list_service_deployments(p.cluster, p.service)
        newer = [
            b for b in briefs
            if b.get("serviceDeploymentArn") != arn and created is not None and b.get("createdAt") is not None
            and b["createdAt"] > created
        ]
        prefix = f"{cause}; " if cause else ""
        if newer:
            other = max(newer, key=lambda b: b["createdAt"])
            ctx.set_reason(f"{prefix}service deployment {short_arn(arn)} was STOPPED: a newer deployment "
                           f"{short_arn(str(other.get('serviceDeploymentArn')))} ({other.get('status')}) replaced it; "
                           "someone else deployed; not rolling back over it")
            return "superseded"
        ctx.set_reason(f"{prefix}service deployment {short_arn(arn)} was STOPPED ({trigger(deployment)}); "
                       "no newer deployment replaced it")
        return "stopped"

    # ---- paused --------------------------------------------------------------------------------------
    def _describe(self, arn: str) -> Mapping[str, Any] | None:
        """One read of the deployment with botocore's retries (the follower's polls make one attempt each)."""
        found = self.ecs.describe_service_deployments([arn])
        return found[0] if found else None

    def paused(self, ctx: Context) -> str:
        arn = str(ctx.facts.service_deployment_arn)
        hook_id = ctx.facts.paused_hook_id
        deployment = self._describe(arn)
        look = look_at(deployment) if deployment is not None else None
        if look is not None and look.phase is Phase.PAUSED and self.params.on_pause == "exit":
            for line in paused_lines(ctx.run_id, look):
                ctx.progress(line)
            raise Paused(
                f"paused at {look.stage}: PAUSE hook {(look.awaiting_hook or {}).get('hookId')} of service "
                f"deployment {short_arn(arn)} awaits action; `ecsops approve {ctx.run_id}` (or --rollback), "
                f"then `ecsops resume {ctx.run_id}`"
            )
        if look is not None and look.phase is Phase.PAUSED:
            self.follower.wait_while_paused(ctx, arn, hook_id)
        return self.pause_ended(ctx)

    def pause_ended(self, ctx: Context) -> str:
        """The PAUSE hook was acted on (or timed out): follow again, --timeout extended by the time it took."""
        # The time a person took does not count against --timeout: the hook's own timeout governed it.
        since = ctx.facts.paused_since
        waited = max(0.0, ctx.now() - since) if since is not None else 0.0
        ctx.record(paused_since=None, paused_hook_id=None)
        ctx.extend_deadline(DEPLOY_DEADLINE, waited)
        ctx.progress(f"the PAUSE hook was acted on after {format_duration(waited)}; following again "
                     f"(--timeout extended by that)")
        return "hook_acted"

    # ---- stopping: our own rollback -------------------------------------------------------------------
    def stopping(self, ctx: Context) -> str:
        cause = self.begin_stop(ctx)
        followed = self.follower.follow(
            ctx, str(ctx.facts.service_deployment_arn), ROLLBACK_DEADLINE, self.params.rollback_budget_seconds,
            until_paused=False,
        )
        return self.rollback_end(ctx, followed, cause, stopping=True)

    def begin_stop(self, ctx: Context) -> str:
        """StopServiceDeployment(ROLLBACK), sent once (a refusal is said: the deployment's status tells why); the
        rollback's deadline runs from the first call. The cause of the rollback."""
        p = self.params
        ctx.deadline(ROLLBACK_DEADLINE, p.rollback_budget_seconds)
        arn = str(ctx.facts.service_deployment_arn)
        cause = ctx.facts.rollback_cause or "the deploy failed"
        request = {"serviceDeploymentArn": arn, "stopType": "ROLLBACK"}

        def reconcile(step: Any) -> Reconciled:
            # Never re-sent blindly: a deployment already rolling back, stopped or ended took (or needs) no call.
            deployment = self._describe(arn)
            status = str((deployment or {}).get("status"))
            if deployment is not None and status not in ("PENDING", "IN_PROGRESS"):
                return Reconciled(happened=True, result={"serviceDeploymentArn": arn, "status_seen": status})
            return NOT_HAPPENED

        try:
            ctx.step("stop_service_deployment", request,
                     lambda r: {"serviceDeploymentArn": self.ecs.stop_service_deployment(arn, "ROLLBACK")},
                     reconcile=reconcile)
        except StepFailed as exc:
            # Refused: the deployment may have ended meanwhile (SUCCESSFUL, rolled back, stopped): its status says.
            ctx.progress(f"StopServiceDeployment refused ({exc.code}: {exc.error.get('message')}); reading its status")
        else:
            ctx.progress(f"StopServiceDeployment(ROLLBACK) sent for {short_arn(arn)}; waiting for ECS to roll back")
        return cause

    # ---- ecs_rolling_back: ECS's own rollback ----------------------------------------------------------
    def ecs_rolling_back(self, ctx: Context) -> str:
        ctx.deadline(ROLLBACK_DEADLINE, self.params.rollback_budget_seconds)
        arn = str(ctx.facts.service_deployment_arn)
        cause = ctx.facts.rollback_cause or "ECS rolled the deployment back"
        followed = self.follower.follow(
            ctx, arn, ROLLBACK_DEADLINE, self.params.rollback_budget_seconds, until_paused=False
        )
        return self.rollback_end(ctx, followed, cause, stopping=False)

    def rollback_end(self, ctx: Context, followed: Followed, cause: str, *, stopping: bool) -> str:
        target = ctx.facts.target()
        previous = f"{short_name(target.task_definition)} with desired count {target.desired_count}"
        look, deployment = followed.look, followed.deployment
        if look is not None and deployment is not None:
            rollback = deployment.get("rollback") or {}
            revision = rollback.get("serviceRevisionArn")
            to = f" (service revision {short_arn(str(revision))})" if revision else ""
            if look.phase is Phase.ROLLED_BACK:
                ctx.set_reason(f"{cause}; ECS rolled back{to}: {previous} serves the traffic again")
                return "rollback_done"
            if look.phase is Phase.ROLLBACK_FAILED:
                ctx.set_reason(self._needs_a_person(ctx, cause, f"the rollback FAILED ({trigger(deployment)})"))
                return "rollback_failed"
            if look.phase is Phase.SUCCESSFUL and stopping:
                ctx.set_reason(f"{cause}; but the deployment finished SUCCESSFUL before the rollback took: "
                               f"{short_name(str(ctx.facts.new_task_definition))} serves the traffic")
                return "finished_anyway"
            if look.phase is Phase.STOPPED:
                return "superseded" if self._stopped(ctx, deployment, cause) == "superseded" else "rollback_failed"
        last = look.summary if look is not None else "(no answer from ECS)"
        return self._gave_up(ctx, cause, last)

    def _gave_up(self, ctx: Context, cause: str, last: str) -> str:
        ctx.set_reason(self._needs_a_person(
            ctx, cause, f"the rollback did not finish within {format_duration(self.params.rollback_budget_seconds)} "
            f"(--rollback-timeout; last seen: {last})"
        ))
        return "rollback_failed"

    def _needs_a_person(self, ctx: Context, cause: str, what: str) -> str:
        p = self.params
        return (f"{cause}; {what}. The service needs a person: aws ecs describe-service-deployments "
                f"--service-deployment-arns {ctx.facts.service_deployment_arn} shows where it stands; then deploy a "
                f"known-good task definition with ecsops deploy --cluster {p.cluster} --service {p.service} "
                "--taskdef FAMILY:REV")

    @staticmethod
    def _with_task_failures(ctx: Context, cause: str) -> str:
        return with_headline(cause, ctx.facts.task_failures.get(str(ctx.facts.deployment_id)))

