"""Each service deployment's walk on virtual time: ROLLING follows rolloutState; BLUE_GREEN, LINEAR and CANARY walk
ECS's lifecycle stages with hooks, traffic shifts, bakes, alarms, rollbacks and stops.

Documented by AWS (developer guide and API reference, listed in docs/service-deployments.md): the stage order,
the statuses and which are final, LINEAR's stepPercent/stepBakeTimeInMinutes with no bake after 100 %, CANARY's
canaryPercent then canaryBakeTimeInMinutes, the bake after the last shift with both revisions running, PAUSE
hooks awaiting ContinueServiceDeployment or their timeout action, rollback to the previous revision without a new
one, STOPPED for a superseded deployment. Inferred here (each spot marked `# inferred`): how long each stage
lasts (5 virtual seconds), when a Lambda hook answers, a hook's default timeout (60 min, ROLLBACK), weights as
percentages, the rollback's timing, ABORT leaving the new revision in place, a breaker or alarm without
rollback ending STOPPED."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ecsops.sim.ecs_model import circuit_breaker_threshold
from ecsops.sim.scenario import Scenario
from ecsops.sim.service_deployments import (
    HOOK_STAGES,
    HookRun,
    RevisionCounts,
    ServiceDeployment,
    ServiceDeploymentBook,
    ServiceDeploymentError,
    ServiceRevision,
)

if TYPE_CHECKING:
    from ecsops.sim.ecs_model import Deployment, EcsModel, ServiceState

STAGE_SECONDS = 5.0  # inferred: AWS gives no stage durations; one poll tick lets a client see each stage
LAMBDA_SECONDS = 5.0  # inferred: how long a Lambda hook takes to answer SUCCEEDED by default
DEFAULT_HOOK_TIMEOUT_MINUTES = 60  # inferred: AWS documents no default timeout
DEFAULT_TIMEOUT_ACTION = "ROLLBACK"  # inferred
# documented defaults (API_LinearConfiguration, API_CanaryConfiguration)
DEFAULT_STEP_PERCENT, DEFAULT_STEP_BAKE_MINUTES = 10.0, 6
DEFAULT_CANARY_PERCENT, DEFAULT_CANARY_BAKE_MINUTES = 5.0, 10
TIMED_STAGES = frozenset(
    {"RECONCILE_SERVICE", "PRE_SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT",
     "POST_PRODUCTION_TRAFFIC_SHIFT"}
)
NEXT_STAGE = {
    "RECONCILE_SERVICE": "PRE_SCALE_UP",
    "PRE_SCALE_UP": "SCALE_UP",
    "SCALE_UP": "POST_SCALE_UP",
    "POST_SCALE_UP": "TEST_TRAFFIC_SHIFT",
    "TEST_TRAFFIC_SHIFT": "POST_TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT": "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT": "BAKE_TIME",
}
PENDING_HOOK = frozenset({"IN_PROGRESS", "AWAITING_ACTION"})
STOPPABLE = frozenset({"PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})


@dataclass
class ScenarioEvents:
    """The scenario's service-deployment events; each fires once, on the first matching deployment after seeding."""

    scenario: Scenario
    consumed: set[tuple[str, int]] = field(default_factory=set)

    def bind(self, deployment: ServiceDeployment, images: set[str]) -> None:
        for kind in ("hook_answers", "alarm_breaches", "foreign_updates", "stops"):
            for index, entry in enumerate(getattr(self.scenario, kind)):
                if (kind, index) in self.consumed or entry.service != deployment.service:
                    continue
                if entry.image is not None and entry.image not in images:
                    continue
                self.consumed.add((kind, index))
                deployment.triggers.setdefault(kind, []).append(entry)

    def rollback_fails(self, service: str) -> bool:
        for index, name in enumerate(self.scenario.failing_rollbacks):
            if name == service and ("failing_rollbacks", index) not in self.consumed:
                self.consumed.add(("failing_rollbacks", index))
                return True
        return False


class StrategyRunner:
    """Creates a service deployment for each new ecs-svc deployment and walks it as its strategy does."""

    def __init__(self, ecs: EcsModel, book: ServiceDeploymentBook, events: ScenarioEvents) -> None:
        self.ecs = ecs
        self.book = book
        self.events = events

    # --- hooks called by the ECS model -------------------------------------------------------------------

    def started(self, state: ServiceState, service: Any, deployment: Deployment) -> None:
        """A new ecs-svc deployment (CreateService, UpdateService): a new service deployment and revision."""
        now = self.ecs.clock.now()
        arn = self.book.deployment_arn(state.cluster, state.name)
        for older in self.book.of_service(state.key):
            if not older.finished:
                # documented status STOPPED for a superseded deployment; the wording is inferred
                reason = f"Service deployment was replaced by a newer service deployment ({arn})."
                self._finish(older, "STOPPED", reason, now)
        config = copy.deepcopy(service.deployment_configuration)
        config.setdefault("strategy", "ROLLING")
        task_definition = self.ecs.backend().describe_task_definition(deployment.task_definition)
        images = [{"containerName": c.get("name", ""), "image": c.get("image", "")}
                  for c in task_definition.container_definitions]
        revision = ServiceRevision(
            id="", arn=self.book.revision_arn(state.cluster, state.name), service_arn=service.arn,
            cluster_arn=service.cluster_arn, task_definition=deployment.task_definition,
            launch_type=deployment.launch_type, created_at=now, images=images,
            load_balancers=list(service.load_balancers or []),
            network_configuration=service.network_configuration or None,
        )
        source_ids = [d.id for d in state.deployments if d.id != deployment.id]
        sources: list[ServiceRevision] = []
        for source_id in source_ids:
            source = self.book.revision_of.get(source_id)
            if source is not None and source not in sources:
                sources.append(source)
        desired = int(service.desired_count)
        record = ServiceDeployment(
            id=arn.rsplit("/", 1)[-1], arn=arn, cluster=state.cluster, service=state.name, service_arn=service.arn,
            cluster_arn=service.cluster_arn, strategy=str(config["strategy"]), created_at=now, configuration=config,
            target=revision, sources=sources, ecs_id=deployment.id, source_ecs_ids=source_ids, desired=desired,
            threshold=circuit_breaker_threshold(desired),
        )
        record.stage_entered_at = now
        if (config.get("deploymentCircuitBreaker") or {}).get("enable"):
            record.breaker_status = "MONITORING"
        if (config.get("alarms") or {}).get("enable"):
            record.alarm_status = "MONITORING"
        if record.native:
            record.stage = "RECONCILE_SERVICE"
        if now >= self.ecs.stuck_from:
            self.events.bind(record, {i["image"] for i in images})
        else:
            record.seeded = True
        self.book.add(record)
        if record.native:
            self._enter(record, "RECONCILE_SERVICE", now)

    def rolling_failed(self, state: ServiceState, failed: Deployment, rollback: Deployment | None) -> None:
        """The circuit breaker failed a ROLLING ecs-svc deployment; ECS rolls back with `rollback` if any."""
        now = self.ecs.clock.now()
        record = self._of_ecs(failed.id)
        if record is None or record.finished:
            return
        record.breaker_status = "TRIGGERED"
        record.failure_count = failed.failed_tasks
        reason = "ECS deployment circuit breaker: tasks failed to start."
        if rollback is None:
            self._finish(record, "STOPPED", reason, now)  # inferred: no rollback configured or possible
            return
        target = self.book.revision_of.get(self._completed_source(state, record) or "")
        self.book.revision_of[rollback.id] = target or record.target
        record.rollback_ecs_id = rollback.id
        self._request_rollback(record, reason, now)

    def holds(self, key: str) -> set[str]:
        """ecs-svc deployments whose tasks a native deployment keeps running (blue) until CLEAN_UP."""
        held: set[str] = set()
        for record in self.book.of_service(key):
            # the blue tasks keep running until CLEAN_UP, or until a requested rollback makes them PRIMARY again
            baking = record.status == "IN_PROGRESS" and record.stage != "CLEAN_UP"
            holding = baking or record.status == "ROLLBACK_REQUESTED"
            if record.native and holding:
                held.update(record.source_ecs_ids)
        return held

    def blocks_scale_up(self, key: str) -> bool:
        """Documented: the green revision starts no task before SCALE_UP."""
        return any(
            r.native and r.status == "IN_PROGRESS" and r.stage in ("RECONCILE_SERVICE", "PRE_SCALE_UP")
            for r in self.book.of_service(key)
        )

    # --- time --------------------------------------------------------------------------------------------

    def step(self) -> bool:
        """Walk every unfinished deployment up to now; True when something changed that the scheduler must see."""
        now = self.ecs.clock.now()
        changed = False
        for record in self.book.in_flight():
            state = self.ecs.services.get(record.key)
            if state is None:
                self.book.forget_service(record.key)
                continue
            for _ in range(100):
                self._count(record, state)
                if not self._advance(record, state, now):
                    break
                changed = True
        for record in self.book.in_flight():
            state = self.ecs.services.get(record.key)
            if state is not None:
                self._count(record, state)
        return changed

    def next_due(self) -> float | None:
        now = self.ecs.clock.now()
        due: list[float] = []
        for record in self.book.in_flight():
            due.extend(t for t in (record.wait_until, record.alarm_at) if t is not None)
            if record.stage in TIMED_STAGES:
                due.append(record.stage_entered_at + STAGE_SECONDS)
            if record.stage == "BAKE_TIME":
                due.append(record.stage_entered_at + self._bake_seconds(record))
            for hook in record.hooks:
                if hook.status in PENDING_HOOK:
                    due.append(hook.expires_at)
                    if hook.answer_at is not None:
                        due.append(hook.answer_at)
        upcoming = [t for t in due if t > now]
        return min(upcoming, default=None)

    # --- API actions -------------------------------------------------------------------------------------

    def stop(self, arn: str, stop_type: str) -> None:
        record = self._get(arn)
        now = self.ecs.clock.now()
        if record.status not in STOPPABLE:
            # inferred: botocore lists ConflictException for StopServiceDeployment; the guide only lists what can stop
            raise ServiceDeploymentError(
                "ConflictException", f"The service deployment {arn} is {record.status} and can't be stopped."
            )
        if record.status != "IN_PROGRESS":
            return  # documented: a stop or rollback already requested just carries on
        if stop_type == "ROLLBACK":
            self._rollback_for(record, "Service deployment rolled back by StopServiceDeployment.", now)
        else:
            # inferred: ABORT ends the walk where it is; the service stays on the target revision and the scheduler
            # replaces the remaining source tasks as a rolling update would (a rolling rollout just carries on)
            record.status = "STOP_REQUESTED"
            record.wait_until = now + STAGE_SECONDS
            self.book.record(record, now)

    def resume(self, arn: str, hook_id: str, action: str) -> None:
        record = self._get(arn)
        now = self.ecs.clock.now()
        hook = next((h for h in record.hooks if h.hook_id == hook_id and h.status == "AWAITING_ACTION"), None)
        if record.status != "IN_PROGRESS" or hook is None:
            # inferred: botocore lists no ConflictException for ContinueServiceDeployment
            raise ServiceDeploymentError(
                "InvalidParameterException",
                f"No lifecycle hook {hook_id} is awaiting action on service deployment {arn}.",
            )
        if action == "ROLLBACK":
            hook.status = "FAILED"  # inferred: the hook's status when rolled back by hand
            self._rollback_for(record, f"Service deployment rolled back by ContinueServiceDeployment ({hook_id}).",
                               now)
        else:
            hook.status = "SUCCEEDED"  # inferred
            record.updated_at = now

    # --- the walk ----------------------------------------------------------------------------------------

    def _advance(self, record: ServiceDeployment, state: ServiceState, now: float) -> bool:
        if record.finished:
            return False
        if record.status == "STOP_REQUESTED":
            if record.wait_until is not None and now >= record.wait_until:
                record.wait_until = None
                self._finish(record, "STOPPED", "Service deployment stopped by StopServiceDeployment (ABORT).", now)
                return True
            return False
        if record.status in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"):
            return self._advance_rollback(record, state, now)
        if not record.native:
            # inferred: a rolling deployment is all scale-up; its SCALE_UP events fire once a new task runs
            if record.target_counts.running > 0 and self._fire_triggers(record, "SCALE_UP"):
                return True
            ecs_deployment = self._ecs_deployment(state, record.ecs_id)
            if ecs_deployment is not None and ecs_deployment.rollout_state == "COMPLETED":
                self._finish(record, "SUCCESSFUL", None, now)
                return True
            return False
        if self._breaker_tripped(record, state, now):
            return True
        if self._advance_hooks(record, now):
            return True
        if any(h.status in PENDING_HOOK for h in record.hooks):
            return False
        return self._advance_stage(record, state, now)

    def _advance_stage(self, record: ServiceDeployment, state: ServiceState, now: float) -> bool:
        stage = record.stage or ""
        if stage in TIMED_STAGES:
            if now < record.stage_entered_at + STAGE_SECONDS:
                return False
            self._enter(record, NEXT_STAGE[stage], now)
            return True
        if stage == "SCALE_UP":
            if record.target_counts.running < record.desired:
                return False
            self._enter(record, "POST_SCALE_UP", now)
            return True
        if stage == "PRODUCTION_TRAFFIC_SHIFT":
            return self._advance_shift(record, now)
        if stage == "BAKE_TIME":
            if record.alarm_at is not None and now >= record.alarm_at:
                record.alarm_at = None
                if self._alarm(record, now):
                    return True
            if now < record.stage_entered_at + self._bake_seconds(record):
                return False
            self._enter(record, "CLEAN_UP", now)
            return True
        if stage == "CLEAN_UP":
            if self._alive(state, set(record.source_ecs_ids)):
                return False
            self._finish(record, "SUCCESSFUL", None, now)
            return True
        return False

    def _advance_shift(self, record: ServiceDeployment, now: float) -> bool:
        """PRE_PRODUCTION_TRAFFIC_SHIFT hooks, then each shift step with its hooks and its step bake."""
        if record.shift_phase == "pre" or (record.shift_phase == "bake" and now >= (record.wait_until or 0.0)):
            record.production_weight = self._next_weight(record)
            record.wait_until = now + STAGE_SECONDS  # inferred: each shift step takes one stage's time
            record.shift_phase = "hooks"
            record.hooks = []
            # inferred: PRODUCTION_TRAFFIC_SHIFT hooks run after each shift step
            self._start_hooks(record, "PRODUCTION_TRAFFIC_SHIFT", now)
            record.updated_at = now
            return True
        if record.shift_phase == "hooks":
            if now < (record.wait_until or 0.0):
                return False
            record.wait_until = None
            if record.production_weight >= 100.0:
                self._enter(record, "POST_PRODUCTION_TRAFFIC_SHIFT", now)
            else:
                record.shift_phase = "bake"
                record.wait_until = now + self._step_bake_seconds(record)
            return True
        return False

    def _enter(self, record: ServiceDeployment, stage: str, now: float) -> None:
        record.stage = stage
        record.stage_entered_at = now
        record.hooks = []
        if stage == "TEST_TRAFFIC_SHIFT":
            record.test_weight = 100.0  # inferred: the test listener rule moves all at once
        if stage == "PRODUCTION_TRAFFIC_SHIFT":
            record.shift_phase = "pre"
            # inferred: PRE_PRODUCTION_TRAFFIC_SHIFT has no status-side stage; its hooks run first in this one
            self._start_hooks(record, "PRE_PRODUCTION_TRAFFIC_SHIFT", now)
        elif stage in HOOK_STAGES:
            self._start_hooks(record, stage, now)
        if stage == "BAKE_TIME":
            for breach in record.triggers.get("alarm_breaches", []):
                record.alarm_at = now + breach.after_bake_seconds
        self.book.record(record, now)
        self._fire_triggers(record, stage)

    def _fire_triggers(self, record: ServiceDeployment, stage: str) -> bool:
        """The scenario's StopServiceDeployment calls and foreign UpdateService calls due at `stage`."""
        fired = False
        for stop in [s for s in record.triggers.get("stops", []) if s.stage == stage]:
            record.triggers["stops"].remove(stop)
            self.stop(record.arn, stop.stop_type)
            fired = True
        for update in [u for u in record.triggers.get("foreign_updates", []) if u.stage == stage]:
            record.triggers["foreign_updates"].remove(update)
            state = self.ecs.services.get(record.key)
            if state is not None and not record.finished:
                self.ecs.foreign_update(state)
                fired = True
        return fired

    def _start_hooks(self, record: ServiceDeployment, hook_stage: str, now: float) -> None:
        if record.seeded:
            return
        for hook in record.configuration.get("lifecycleHooks") or []:
            if hook_stage not in (hook.get("lifecycleStages") or []):
                continue
            target_type = str(hook.get("targetType", "AWS_LAMBDA"))
            timeout = hook.get("timeoutConfiguration") or {}
            minutes = timeout.get("timeoutInMinutes") or DEFAULT_HOOK_TIMEOUT_MINUTES
            run = HookRun(
                hook_id=self.book.hook_id(target_type),
                target_type=target_type,
                target_arn=hook.get("hookTargetArn") if target_type == "AWS_LAMBDA" else None,
                stage=hook_stage,
                status="AWAITING_ACTION" if target_type == "PAUSE" else "IN_PROGRESS",
                expires_at=now + float(minutes) * 60.0,
                timeout_action=str(timeout.get("action") or DEFAULT_TIMEOUT_ACTION),
            )
            if target_type == "AWS_LAMBDA":
                run.answer, run.answer_at = "SUCCEEDED", now + LAMBDA_SECONDS
                answers = record.triggers.get("hook_answers", [])
                scripted = next((a for a in answers if a.stage == hook_stage), None)
                if scripted is not None:
                    answers.remove(scripted)
                    run.answer = None if scripted.answer == "NEVER" else scripted.answer
                    run.answer_at = None if scripted.answer == "NEVER" else now + scripted.after_seconds
            record.hooks.append(run)

    def _advance_hooks(self, record: ServiceDeployment, now: float) -> bool:
        """Lambda answers and timeouts that fell due; True when the deployment left IN_PROGRESS."""
        for hook in record.hooks:
            if hook.status not in PENDING_HOOK:
                continue
            if hook.answer_at is not None and now >= hook.answer_at and now < hook.expires_at:
                hook.status, hook.answer_at = hook.answer or "SUCCEEDED", None
                record.updated_at = now
            elif now >= hook.expires_at:
                hook.status, hook.answer_at = "TIMED_OUT", None
                record.updated_at = now
                if hook.timeout_action == "ROLLBACK":
                    self._rollback_for(record, f"Lifecycle hook {hook.hook_id} timed out.", now)
                    return True
            if hook.status == "FAILED":
                self._rollback_for(record, f"Lifecycle hook {hook.hook_id} failed.", now)
                return True
        return False

    def _breaker_tripped(self, record: ServiceDeployment, state: ServiceState, now: float) -> bool:
        breaker = record.configuration.get("deploymentCircuitBreaker") or {}
        if not breaker.get("enable") or record.failure_count < record.threshold or record.stage == "CLEAN_UP":
            return False
        ecs_deployment = self._ecs_deployment(state, record.ecs_id)
        if ecs_deployment is not None:
            ecs_deployment.rollout_state = "FAILED"  # hidden on native strategies; stops the model's rolling breaker
        record.breaker_status = "TRIGGERED"
        reason = "ECS deployment circuit breaker: tasks failed to start."
        if breaker.get("rollback"):
            self._request_rollback(record, reason, now)
        else:
            self._finish(record, "STOPPED", reason, now)  # inferred
        return True

    def _alarm(self, record: ServiceDeployment, now: float) -> bool:
        alarms = record.configuration.get("alarms") or {}
        names = [b.alarm for b in record.triggers.get("alarm_breaches", []) if b.alarm in alarms.get("alarmNames", [])]
        if not alarms.get("enable") or not names:
            return False
        record.alarm_status = "TRIGGERED"
        record.triggered_alarms = names
        reason = f"CloudWatch alarm(s) {', '.join(names)} in ALARM state."
        if alarms.get("rollback"):
            self._request_rollback(record, reason, now)
        else:
            self._finish(record, "STOPPED", reason, now)  # inferred
        return True

    # --- rollbacks ---------------------------------------------------------------------------------------

    def _rollback_for(self, record: ServiceDeployment, reason: str, now: float) -> None:
        """A rollback asked for by a hook, a person or StopServiceDeployment."""
        if record.native:
            self._request_rollback(record, reason, now)
            return
        state = self.ecs.services.get(record.key)
        rollback = self.ecs.rollback_rolling(state) if state is not None else None
        if rollback is None:
            self._finish(record, "ROLLBACK_FAILED", f"{reason} No completed deployment to roll back to.", now)
            return
        self.book.revision_of[rollback.id] = self.book.revision_of.get(
            self._completed_source(state, record) or "", record.target
        )
        record.rollback_ecs_id = rollback.id
        self._request_rollback(record, reason, now)

    def _request_rollback(self, record: ServiceDeployment, reason: str, now: float) -> None:
        revision = record.sources[0].arn if record.sources else record.target.arn
        if record.rollback_ecs_id is not None and record.rollback_ecs_id in self.book.revision_of:
            revision = self.book.revision_of[record.rollback_ecs_id].arn
        record.status = "ROLLBACK_REQUESTED"
        record.rollback = {"reason": reason, "startedAt": now, "serviceRevisionArn": revision}
        record.rollback_fails = self.events.rollback_fails(record.service)
        # inferred: ECS takes one stage's time to start a requested rollback (rolling: the breaker starts it at once)
        record.wait_until = now + STAGE_SECONDS if record.native else now
        self.book.record(record, now)

    def _advance_rollback(self, record: ServiceDeployment, state: ServiceState, now: float) -> bool:
        if record.status == "ROLLBACK_REQUESTED":
            if record.wait_until is not None and now < record.wait_until:
                return False
            record.wait_until = None
            if record.native:
                reverted = self.ecs.revert_to(state, record.source_ecs_ids)
                if reverted is None:
                    self._finish(record, "ROLLBACK_FAILED", "No previous service revision to roll back to.", now)
                    return True
                record.rollback_ecs_id = reverted.id
                record.production_weight = record.test_weight = 0.0
            record.status = "ROLLBACK_IN_PROGRESS"
            self.book.record(record, now)
            return True
        if record.native:
            # inferred: done when the target has no task left and the source runs the desired count again
            back = self._ecs_deployment(state, record.rollback_ecs_id or "")
            running = self._count_tasks(state, {record.rollback_ecs_id or ""})[0]
            if self._alive(state, {record.ecs_id}) or back is None or running < record.desired:
                return False
        else:
            back = self._ecs_deployment(state, record.rollback_ecs_id or "")
            if back is None or back.rollout_state != "COMPLETED":
                return False
        if record.rollback_fails:
            # scenario failing_rollbacks: only the status says so; the tasks have reverted (inferred wording)
            self._finish(record, "ROLLBACK_FAILED", "The rollback failed.", now)
        else:
            self._finish(record, "ROLLBACK_SUCCESSFUL", None, now)
        return True

    # --- helpers -----------------------------------------------------------------------------------------

    def _finish(self, record: ServiceDeployment, status: str, reason: str | None, now: float) -> None:
        record.status = status
        if reason is not None:
            record.status_reason = reason
        record.finished_at = now
        if status == "STOPPED":
            record.stopped_at = now
        record.wait_until = record.alarm_at = None
        for attribute in ("breaker_status", "alarm_status"):
            if getattr(record, attribute) == "MONITORING":
                setattr(record, attribute, "MONITORING_COMPLETE")
        self.book.record(record, now)

    def _count(self, record: ServiceDeployment, state: ServiceState) -> None:
        """Refresh the revision summaries; a finished deployment keeps the counts it had (documented)."""
        if record.finished:
            return
        ecs_deployment = self._ecs_deployment(state, record.ecs_id)
        if ecs_deployment is not None:
            record.failure_count = ecs_deployment.failed_tasks
        rolled_back = record.status in ("ROLLBACK_IN_PROGRESS",)
        running, pending = self._count_tasks(state, {record.ecs_id})
        record.target_counts = RevisionCounts(0 if rolled_back else record.desired, running, pending)
        for source in record.sources:
            ids = {i for i in [*record.source_ecs_ids, record.rollback_ecs_id or ""]
                   if self.book.revision_of.get(i) is source}
            running, pending = self._count_tasks(state, ids)
            requested = record.desired if rolled_back and source is record.sources[0] else running + pending
            record.source_counts[source.arn] = RevisionCounts(requested, running, pending)

    def _count_tasks(self, state: ServiceState, ids: set[str]) -> tuple[int, int]:
        tasks = [t for t in self.ecs.runner.tasks.values()
                 if t.service_key == state.key and t.deployment_id in ids and not t.stopping and t.state != "STOPPED"]
        running = sum(1 for t in tasks if t.state == "RUNNING")
        return running, len(tasks) - running

    def _alive(self, state: ServiceState, ids: set[str]) -> bool:
        return any(t.service_key == state.key and t.deployment_id in ids and t.state != "STOPPED"
                   for t in self.ecs.runner.tasks.values())

    @staticmethod
    def _ecs_deployment(state: ServiceState, deployment_id: str) -> Deployment | None:
        return next((d for d in state.deployments if d.id == deployment_id), None)

    def _completed_source(self, state: ServiceState | None, record: ServiceDeployment) -> str | None:
        completed = state.last_completed if state is not None else None
        return completed.id if completed is not None else None

    def _of_ecs(self, ecs_id: str) -> ServiceDeployment | None:
        return next((r for r in reversed(self.book.deployments.values()) if r.ecs_id == ecs_id), None)

    def _get(self, arn: str) -> ServiceDeployment:
        record = self.book.deployments.get(arn)
        if record is None:
            raise ServiceDeploymentError(
                "ServiceDeploymentNotFoundException", f"The service deployment {arn} does not exist."
            )
        return record

    @staticmethod
    def _bake_seconds(record: ServiceDeployment) -> float:
        if record.seeded:
            return 0.0
        return float(record.configuration.get("bakeTimeInMinutes") or 0) * 60.0  # inferred: absent means 0

    @staticmethod
    def _step_bake_seconds(record: ServiceDeployment) -> float:
        if record.seeded:
            return 0.0
        if record.strategy == "LINEAR":
            linear = record.configuration.get("linearConfiguration") or {}
            return float(linear.get("stepBakeTimeInMinutes", DEFAULT_STEP_BAKE_MINUTES)) * 60.0
        if record.strategy == "CANARY":
            canary = record.configuration.get("canaryConfiguration") or {}
            return float(canary.get("canaryBakeTimeInMinutes", DEFAULT_CANARY_BAKE_MINUTES)) * 60.0
        return 0.0

    @staticmethod
    def _next_weight(record: ServiceDeployment) -> float:
        if record.strategy == "LINEAR":
            step = float((record.configuration.get("linearConfiguration") or {}).get("stepPercent",
                                                                                     DEFAULT_STEP_PERCENT))
            return round(min(100.0, record.production_weight + step), 6)
        if record.strategy == "CANARY" and record.production_weight == 0.0:
            return float((record.configuration.get("canaryConfiguration") or {}).get("canaryPercent",
                                                                                     DEFAULT_CANARY_PERCENT))
        return 100.0
