"""The deploy machine's state handlers: reads, durable AWS changes with reconcile functions, and waits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ecsops.aws_clients import is_throttling, is_transient
from ecsops.aws_ecs import EcsGateway, EcsNotFound, TaskDefinitionNotFound, revision_of, short_name
from ecsops.aws_elbv2 import Elbv2Gateway
from ecsops.deploy_edits import EditError
from ecsops.deploy_params import DeployParams
from ecsops.deploy_watch import Verdict, Watch, judge, new_events
from ecsops.durations import format_duration
from ecsops.taskdef_diff import describe_changes
from ecsops.taskdef_edit import apply_edits, has_changes, register_request_from
from machines.context import RunContext
from machines.errors import StepFailed
from machines.steps import NOT_HAPPENED, Reconciled

RUN_ID_TAG = "ecsops:run-id"
RECONCILE_REVISIONS = 10  # newest revisions of the family searched for our run-id tag
ADAPTIVE_FIRST_INTERVAL = 2.0
ADAPTIVE_MAX_INTERVAL = 15.0
PROGRESS_HEARTBEAT_SECONDS = 60.0
MUTATION_ATTEMPTS = 8
MUTATION_FIRST_BACKOFF = 1.0
MUTATION_MAX_BACKOFF = 20.0

Handler = Callable[[RunContext], str]


def deployment_record(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-safe facts of a deployment worth recording."""
    return {
        "id": deployment.get("id"),
        "status": deployment.get("status"),
        "taskDefinition": deployment.get("taskDefinition"),
        "desiredCount": deployment.get("desiredCount"),
        "rolloutState": deployment.get("rolloutState"),
    }


def _without_run_id_tag(tags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [tag for tag in tags if tag.get("key") != RUN_ID_TAG]


def _primary(service: Mapping[str, Any]) -> Mapping[str, Any]:
    deployments = list(service.get("deployments", []))
    return next((d for d in deployments if d.get("status") == "PRIMARY"), deployments[0] if deployments else {})


def someone_elses_primary(
    service: Mapping[str, Any], trusted: str | None, known: set[str], requested_task_definition: str
) -> Mapping[str, Any] | None:
    """The service's PRIMARY deployment if another deploy made it, before we send UpdateService.

    Not someone else's: `trusted` (the PRIMARY we expect), or a deployment on the task definition we
    request that was not among `known` (listed before our call): our own call, made before a crash.
    """
    primary = _primary(service)
    if not primary or primary.get("id") == trusted:
        return None
    if primary.get("id") not in known and primary.get("taskDefinition") == requested_task_definition:
        return None
    return primary


def _taken_over_reason(primary: Mapping[str, Any], what: str) -> str:
    return (f"deployment {primary.get('id')} ({short_name(str(primary.get('taskDefinition')))}) became PRIMARY "
            f"before {what}: someone else deployed; not deploying over it")


class DeployHandlers:
    """One instance per process driving a deploy run; remembers only progress (seen events) in memory."""

    def __init__(self, params: DeployParams, ecs: EcsGateway, elbv2: Elbv2Gateway) -> None:
        self.params = params
        self.ecs = ecs
        self.elbv2 = elbv2
        self._seen_events: set[str] = set()

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
    def planned(self, ctx: RunContext) -> str:
        p = self.params
        try:
            service = self.ecs.describe_service(p.cluster, p.service)
        except EcsNotFound as exc:
            ctx.record(reason=f"nothing was changed: {exc.message}")
            return "fail"
        if "rollback_target" in ctx.data:
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
    def snapshotted(self, ctx: RunContext) -> str:
        p = self.params
        rollback_target = ctx.data["rollback_target"]
        try:
            task_definition, tags = self.ecs.describe_task_definition(p.taskdef or rollback_target["task_definition"])
        except TaskDefinitionNotFound as exc:
            ctx.record(reason=f"nothing was changed: {exc.message}")
            return "fail"
        base = str(task_definition["taskDefinitionArn"])
        before = register_request_from(task_definition, tags)
        try:
            after = apply_edits(before, p.edits)
        except EditError as exc:
            ctx.record(reason=f"nothing was changed: {exc}")
            return "fail"
        for line in describe_changes(before, after, rollback_target["desired_count"], p.desired_count):
            ctx.progress(line)
        if not has_changes(before, after):
            ctx.record(base_task_definition=base, new_task_definition=base, registered_revision=False)
            ctx.progress(f"task definition unchanged: deploying {short_name(base)} again, no new revision")
            return "reuse"
        # The run id tag lets a resumed run find the revision it registered; decided after has_changes.
        request = dict(after)
        request["tags"] = [*_without_run_id_tag(after.get("tags", [])), {"key": RUN_ID_TAG, "value": ctx.run_id}]
        ctx.record(base_task_definition=base, register_request=request)
        return "register"

    # ---- registering -----------------------------------------------------------------------------
    def registering(self, ctx: RunContext) -> str:
        request = ctx.data["register_request"]

        def find(request: dict[str, Any]) -> Reconciled:
            return self._find_registered(request, ctx.run_id)

        try:
            result = self._step(ctx, "register_task_definition", request, self._register, find)
        except StepFailed as exc:
            ctx.record(reason=f"RegisterTaskDefinition refused ({exc.code}: {exc.error.get('message')}); "
                       "the service was not changed")
            return "fail"
        ctx.record(new_task_definition=result["taskDefinitionArn"], registered_revision=True)
        ctx.progress(f"registered {short_name(result['taskDefinitionArn'])}")
        return "registered"

    def _register(self, request: dict[str, Any]) -> dict[str, Any]:
        registered = self.ecs.register_task_definition(request)
        return {"taskDefinitionArn": registered["taskDefinitionArn"], "revision": registered["revision"]}

    def _find_registered(self, request: dict[str, Any], run_id: str) -> Reconciled:
        """Did RegisterTaskDefinition happen? Look for a recent revision tagged with our run id."""
        wanted = {"key": RUN_ID_TAG, "value": run_id}
        for arn in self.ecs.list_task_definitions(request["family"], newest=RECONCILE_REVISIONS):
            _, tags = self.ecs.describe_task_definition(arn)
            if any(tag.get("key") == wanted["key"] and tag.get("value") == wanted["value"] for tag in tags):
                return Reconciled(happened=True, result={"taskDefinitionArn": arn, "revision": revision_of(arn)})
        return NOT_HAPPENED

    # ---- updating --------------------------------------------------------------------------------
    def updating(self, ctx: RunContext) -> str:
        p = self.params
        request = self._update_request(ctx.data["new_task_definition"], p.desired_count)
        snapshot = ctx.data["rollback_target"]["deployments"]
        known = {d["id"] for d in snapshot}
        trusted = next((d["id"] for d in snapshot if d.get("status") == "PRIMARY"), None)
        try:
            service = self.ecs.describe_service(p.cluster, p.service)
        except EcsNotFound as exc:
            ctx.record(reason=f"the service was not changed: {exc.message}")
            return "fail"
        other = someone_elses_primary(service, trusted, known, request["taskDefinition"])
        if other is not None:
            ctx.record(reason=_taken_over_reason(other, "our update; the service was not changed by this run"))
            return "superseded"
        try:
            result = self._step(
                ctx, "update_service", request, self._update, lambda request: self._find_deployment(request, known)
            )
        except StepFailed as exc:
            ctx.record(reason=f"UpdateService refused ({exc.code}: {exc.error.get('message')}); "
                       "the service was not changed")
            return "fail"
        ctx.record(deployment_id=result["deployment_id"])
        ctx.progress(f"deployment {result['deployment_id']} started on {short_name(result['task_definition'])}")
        return "updated"

    def _update_request(self, task_definition: str, desired_count: int | None) -> dict[str, Any]:
        return {
            "cluster": self.params.cluster,
            "service": self.params.service,
            "taskDefinition": task_definition,
            "desiredCount": desired_count,
            "forceNewDeployment": True,
        }

    def _update(self, request: dict[str, Any]) -> dict[str, Any]:
        service = self.ecs.update_service(
            request["cluster"],
            request["service"],
            request["taskDefinition"],
            request["desiredCount"],
            request["forceNewDeployment"],
        )
        primary = _primary(service)
        return {"deployment_id": primary.get("id"), "task_definition": primary.get("taskDefinition")}

    def _find_deployment(self, request: dict[str, Any], known: set[str]) -> Reconciled:
        """Did UpdateService happen? A deployment on the requested task definition that was not listed
        before the call is ours (clocks of this host and of AWS are not compared)."""
        service = self.ecs.describe_service(request["cluster"], request["service"])
        candidates = [
            d
            for d in service.get("deployments", [])
            if d.get("taskDefinition") == request["taskDefinition"] and d.get("id") not in known
        ]
        if not candidates:
            return NOT_HAPPENED
        ours = max(candidates, key=lambda d: (d.get("status") == "PRIMARY", str(d.get("createdAt"))))
        result = {"deployment_id": ours["id"], "task_definition": ours["taskDefinition"]}
        return Reconciled(happened=True, result=result)

    # ---- waiting ---------------------------------------------------------------------------------
    def waiting(self, ctx: RunContext) -> str:
        p = self.params
        deployment_id = ctx.data["deployment_id"]
        rollback_target = ctx.data["rollback_target"]
        watch = self._follow(
            ctx, deployment_id, "deploy", rollback_target["task_definition"], p.wait_until == "draining-started"
        )
        if watch.verdict is Verdict.STABLE:
            return "stable"
        if watch.verdict is Verdict.SUPERSEDED:
            ctx.record(reason=watch.reason)
            return "superseded"
        if watch.verdict is Verdict.ECS_ROLLED_BACK:
            ctx.record(failure=watch.reason, ecs_rollback_deployment_id=watch.primary_id)
            return "ecs_rolled_back"
        if watch.verdict is Verdict.FAILED:
            cause, trigger = watch.reason, "deploy_failed"
        else:
            cause = (f"deployment {deployment_id} did not finish within {format_duration(p.timeout_seconds)} "
                     f"(last seen: {watch.summary})")
            trigger = "timed_out"
        if p.no_rollback:
            previous = short_name(rollback_target["task_definition"])
            ctx.record(reason=(
                f"{cause}; --no-rollback: deployment {deployment_id} is left as it is. To roll back: ecsops deploy "
                f"--cluster {p.cluster} --service {p.service} --taskdef {previous} "
                f"--desired-count {rollback_target['desired_count']}"
            ))
            return "gave_up"
        ctx.record(failure=cause)
        ctx.progress(f"{cause}; rolling back")
        return trigger

    # ---- rolling back ----------------------------------------------------------------------------
    def rolling_back(self, ctx: RunContext) -> str:
        p = self.params
        rollback_target = ctx.data["rollback_target"]
        cause = ctx.data.get("failure", "the deploy failed")
        previous = short_name(rollback_target["task_definition"])
        try:
            service = self.ecs.describe_service(p.cluster, p.service)
        except EcsNotFound as exc:
            ctx.record(reason=f"{cause}; cannot roll back: {exc.message}")
            return "rollback_failed"
        if "rollback_known_deployments" not in ctx.data:
            ctx.record(rollback_known_deployments=[d.get("id") for d in service.get("deployments", [])])
        known = set(ctx.data["rollback_known_deployments"])
        request = self._update_request(rollback_target["task_definition"], rollback_target["desired_count"])
        # Checked on every entry: a resumed run must not roll back over a deploy made while it was down.
        other = someone_elses_primary(service, ctx.data["deployment_id"], known, request["taskDefinition"])
        if other is not None:
            ctx.record(reason=f"{cause}; {_taken_over_reason(other, 'our rollback')}")
            return "superseded"
        try:
            result = self._step(
                ctx,
                "rollback_update_service",
                request,
                self._update,
                lambda request: self._find_deployment(request, known),
            )
        except StepFailed as exc:
            ctx.record(reason=self._rollback_failed_reason(
                cause, f"UpdateService back to {previous} was refused ({exc.code}: {exc.error.get('message')})"
            ))
            return "rollback_failed"
        ctx.record(rollback_deployment_id=result["deployment_id"])
        ctx.progress(f"rollback deployment {result['deployment_id']} started on {previous}")
        return self._finish_rollback(ctx, result["deployment_id"], cause, f"rolled back to {previous}")

    def ecs_rolling_back(self, ctx: RunContext) -> str:
        cause = ctx.data.get("failure", "the deployment failed")
        deployment_id = ctx.data["ecs_rollback_deployment_id"]
        return self._finish_rollback(ctx, deployment_id, cause, "ECS's circuit breaker rollback finished")

    def _finish_rollback(self, ctx: RunContext, deployment_id: str, cause: str, done: str) -> str:
        rollback_target = ctx.data["rollback_target"]
        watch = self._follow(ctx, deployment_id, "rollback", None, False)
        if watch.verdict is Verdict.STABLE:
            ctx.record(reason=(
                f"{cause}; {done}: {short_name(rollback_target['task_definition'])} with desired count "
                f"{rollback_target['desired_count']} is running again"
            ))
            return "rollback_done"
        if watch.verdict is Verdict.SUPERSEDED:
            ctx.record(reason=f"{cause}; during the rollback {watch.reason}")
            return "superseded"
        if watch.verdict is Verdict.FAILED:
            what = f"rollback deployment {deployment_id} failed too ({watch.reason})"
        else:
            what = (f"rollback deployment {deployment_id} did not finish within "
                    f"{format_duration(self.params.timeout_seconds)}")
        ctx.record(reason=self._rollback_failed_reason(cause, what, watch.summary))
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

    # ---- durable, non-idempotent calls -------------------------------------------------------------
    def _step(
        self,
        ctx: RunContext,
        name: str,
        request: dict[str, Any],
        call: Callable[[dict[str, Any]], dict[str, Any]],
        find: Callable[[dict[str, Any]], Reconciled],
    ) -> Any:
        """ctx.step for a call AWS gives no idempotency token: throttling is retried; after an unknown
        outcome (5xx, dropped connection) AWS is asked whether the call happened before it is sent again."""

        def call_once_in_effect(request: dict[str, Any]) -> Any:
            delay = MUTATION_FIRST_BACKOFF
            for attempt in range(1, MUTATION_ATTEMPTS + 1):
                try:
                    return call(request)
                except Exception as exc:
                    if attempt == MUTATION_ATTEMPTS or not is_transient(exc):
                        raise
                    ctx.progress(f"{name}: {type(exc).__name__}: {exc}; trying again in {format_duration(delay)}")
                    ctx.sleep(delay)
                    delay = min(delay * 2, MUTATION_MAX_BACKOFF)
                    if not is_throttling(exc):
                        finding = find(request)
                        if finding.happened:
                            return finding.result
            raise AssertionError("unreachable")

        return ctx.step(name, request, call_once_in_effect, reconcile=lambda step: find(step.request))

    # ---- polling ---------------------------------------------------------------------------------
    def _follow(
        self,
        ctx: RunContext,
        deployment_id: str,
        deadline_name: str,
        rollback_task_definition: str | None,
        until_draining: bool,
    ) -> Watch:
        """Poll until the deployment has a verdict or the named durable deadline passes (IN_PROGRESS)."""
        p = self.params
        deadline = ctx.deadline(deadline_name, p.timeout_seconds)
        started = deadline - p.timeout_seconds
        last = Watch(Verdict.IN_PROGRESS, "", "(no answer from ECS yet)")
        polls = 0
        shown, shown_at = "", float("-inf")
        while True:
            try:
                service = self.ecs.describe_service(p.cluster, p.service)
                last = judge(service, deployment_id, rollback_task_definition)
                if last.verdict is Verdict.IN_PROGRESS and until_draining:
                    draining = self._draining_started(ctx)
                    if draining:
                        return Watch(Verdict.STABLE, draining, last.summary, last.primary_id)
            except EcsNotFound as exc:
                return Watch(Verdict.FAILED, exc.message, last.summary, last.primary_id)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                ctx.progress(f"poll failed ({type(exc).__name__}: {exc}); trying again")
                service = None
            now = ctx.now()
            if service is not None:
                for message in new_events(service, self._seen_events, started):
                    ctx.progress(f"event: {message}")
                # A line when the counts change, else a heartbeat, so a slow rollout is not a wall of text.
                if last.summary != shown or now - shown_at >= PROGRESS_HEARTBEAT_SECONDS:
                    shown, shown_at = last.summary, now
                    ctx.progress(
                        f"{last.summary} | elapsed {format_duration(now - started)}, "
                        f"{format_duration(max(0.0, deadline - now))} left"
                    )
            if last.verdict is not Verdict.IN_PROGRESS:
                return last
            if now >= deadline:
                return last
            ctx.sleep(self._interval(polls))
            polls += 1

    def _interval(self, polls: int) -> float:
        if self.params.poll_interval is not None:
            return self.params.poll_interval
        return float(min(ADAPTIVE_MAX_INTERVAL, ADAPTIVE_FIRST_INTERVAL * 1.5**polls))

    def _draining_started(self, ctx: RunContext) -> str | None:
        group = ctx.data.get("target_group")
        if not group:
            return None
        initial = set(ctx.data.get("initial_targets") or [])
        health = self.elbv2.describe_target_health(group)
        draining = [t for t in health if t.state == "draining"]
        if draining:
            return f"target {draining[0].key} of {short_name(group)} started draining"
        if initial and not initial & {t.key for t in health}:
            return f"every target registered before the deploy has left {short_name(group)}"
        return None
