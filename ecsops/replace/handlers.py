"""The I/O of replace-instances: one handler per run state; each instance moves through its own machine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ecsops.aws.autoscaling import AutoScalingGroupNotFound
from ecsops.aws.ecs_instances import ClusterNotFound
from ecsops.aws.errors import is_transient
from ecsops.replace.gateways import ReplaceGateways
from ecsops.replace.launch_settings import LaunchSettingsError
from ecsops.replace.params import ReplaceParams
from ecsops.replace.plan import plan_replacement
from ecsops.replace.poll import ClusterPoller
from ecsops.replace.verdict import DRAINING, Snapshot, WaitingInstance, assign_replacements, drain_progress
from machines.context import RunContext
from machines.durations import format_duration
from machines.errors import StepFailed
from machines.steps import NOT_HAPPENED, Reconciled
from store.models import ItemRecord, StepRecord

FINAL_ITEM_STATES = frozenset({"terminated", "reattached", "reattach_failed", "skipped"})
ADAPTIVE_FIRST_POLL = 2.0
ADAPTIVE_MAX_POLL = 15.0
ADAPTIVE_GROWTH = 1.5
TERMINATED_STATES = ("shutting-down", "terminated")
# Instance states whose handler acts at once, without waiting for the next poll.
ACT_NOW = frozenset({"drained", "terminating", "reattaching"})


class PollInterval:
    def __init__(self, fixed: float | None) -> None:
        self._fixed = fixed
        self._current = ADAPTIVE_FIRST_POLL

    def after(self, changed: bool) -> float:
        if self._fixed is not None:
            return self._fixed
        self._current = ADAPTIVE_FIRST_POLL if changed else min(ADAPTIVE_MAX_POLL, self._current * ADAPTIVE_GROWTH)
        return self._current


class InstanceFailed(Exception):
    """This instance cannot be replaced; it is put back (re-activated, re-attached)."""


class ReplaceHandlers:
    """Handlers for the run states `planned` and `replacing`."""

    def __init__(self, params: ReplaceParams, gateways: ReplaceGateways) -> None:
        self.params = params
        self.aws = gateways
        self._said: dict[str, str] = {}

    # ---- planned --------------------------------------------------------------------------------
    def planned(self, ctx: RunContext) -> str:
        p = self.params
        try:
            plan = plan_replacement(self.aws.reader, self.aws.ecs, p.asg, p.cluster)
        except (AutoScalingGroupNotFound, ClusterNotFound, LaunchSettingsError) as exc:
            ctx.record(reason=str(exc))
            return "plan_failed"
        for planned in plan.to_replace:
            ctx.add_item(planned.instance_id, planned.document())
        ctx.record(
            not_in_cluster=[planned.document() for planned in plan.not_in_cluster],
            skipped=[{"instance_id": v.instance_id, "reason": v.skip_reason} for v in plan.skipped],
            plan_summary=plan.summary(),
        )
        ctx.progress(plan.summary())
        for planned in plan.to_replace:
            ctx.progress(f"{planned.instance_id}: out of date: {planned.reason}")
        if not plan.to_replace:
            ctx.record(reason=f"nothing to replace: {plan.summary()}")
            return "nothing_to_replace"
        return "plan"

    # ---- replacing ------------------------------------------------------------------------------
    def replacing(self, ctx: RunContext) -> str:
        poller = ClusterPoller(self.aws.reader, self.aws.ecs, self.params.asg, self.params.cluster)
        interval = PollInterval(self.params.poll_interval)
        while True:
            items = ctx.items()
            if all(item.state in FINAL_ITEM_STATES for item in items.values()):
                return self._finish(ctx, items)
            try:
                snapshot = poller.poll(
                    watch=self._watched(items),
                    new_instances=any(i.state == "waiting_replacement" for i in items.values()),
                    services=any(i.state == "draining" for i in items.values()),
                    now=ctx.now(),
                )
            except Exception as exc:
                if not is_transient(exc):
                    raise
                # Throttled or 5xx even after botocore's retries: skip this poll, try again at the next.
                ctx.progress(f"poll failed ({exc}); trying again")
                ctx.sleep(interval.after(False))
                continue
            changed = self._start_pending(ctx, items, snapshot)
            changed = self._assign_replacements(ctx, ctx.items(), snapshot) or changed
            for item_id in list(ctx.items()):
                changed = self._advance(ctx, item_id, snapshot, poller) or changed
            if any(i.state not in FINAL_ITEM_STATES for i in ctx.items().values()):
                ctx.sleep(interval.after(changed))

    def _watched(self, items: dict[str, ItemRecord]) -> set[str]:
        watched = set()
        for item in items.values():
            if item.state in ("draining", "drained", "terminating"):
                watched.add(item.item_id)
        return watched

    def _start_pending(self, ctx: RunContext, items: dict[str, ItemRecord], snapshot: Snapshot) -> bool:
        """Fill free slots of the batch; after an instance failed, start no more (the rest are skipped)."""
        failed = [i for i in items.values() if i.state in ("reattaching", "reattached", "reattach_failed")]
        pending = [i for i in items.values() if i.state == "pending"]
        if failed:
            for item in pending:
                ctx.fire_item(item.item_id, "skip", {"failure": f"not started: {failed[0].item_id} failed first"})
            return bool(pending)
        in_flight = sum(1 for i in items.values() if i.state not in FINAL_ITEM_STATES and i.state != "pending")
        started = False
        for item in pending[: max(0, self.params.batch_size - in_flight)]:
            # The deadline and the group's instances are fixed before the detach, so a resume keeps both.
            deadline = ctx.deadline(f"replace:{item.item_id}", self.params.timeout)
            ctx.fire_item(
                item.item_id, "start", {"known_before": sorted(snapshot.group_instances), "deadline": deadline}
            )
            started = True
        return started

    def _assign_replacements(self, ctx: RunContext, items: dict[str, ItemRecord], snapshot: Snapshot) -> bool:
        claimed = [str(i.data["replacement"]) for i in items.values() if i.data.get("replacement")]
        waiting = [
            WaitingInstance(i.item_id, frozenset(i.data.get("known_before", ())))
            for i in items.values()
            if i.state == "waiting_replacement"
        ]
        assigned = assign_replacements(snapshot, waiting, claimed)
        for instance_id, replacement in assigned.items():
            view = snapshot.container_instances[replacement]
            ctx.progress(f"{instance_id}: replacement {replacement} is ACTIVE in cluster {self.params.cluster}")
            ctx.fire_item(
                instance_id,
                "replacement_active",
                {"replacement": replacement, "replacement_container_instance_arn": view.arn},
            )
        return bool(assigned)

    def _advance(self, ctx: RunContext, item_id: str, snapshot: Snapshot, poller: ClusterPoller) -> bool:
        """Move one instance as far as this poll allows; True if its state changed."""
        item = ctx.items()[item_id]
        handler: dict[str, Callable[[RunContext, ItemRecord, Snapshot, ClusterPoller], str | None]] = {
            "detaching": self._detaching,
            "waiting_replacement": self._waiting_replacement,
            "draining": self._draining,
            "drained": self._drained,
            "terminating": self._terminating,
            "reattaching": self._reattaching,
        }
        changed = False
        while item.state in handler:
            trigger = self._run_item_state(ctx, item, handler[item.state], snapshot, poller)
            if trigger is None:
                return changed
            changed = True
            item = ctx.items()[item_id]
            if item.state not in ACT_NOW:
                return True
        return changed

    def _run_item_state(
        self,
        ctx: RunContext,
        item: ItemRecord,
        handler: Callable[[RunContext, ItemRecord, Snapshot, ClusterPoller], str | None],
        snapshot: Snapshot,
        poller: ClusterPoller,
    ) -> str | None:
        """Run one instance state's handler and fire its trigger; returns the trigger fired, if any."""
        item_id = item.item_id
        try:
            trigger = handler(ctx, item, snapshot, poller)
        except (StepFailed, InstanceFailed) as exc:
            reason = f"{item.state}: {exc}"
            if item.state == "reattaching":
                refused = exc.step if isinstance(exc, StepFailed) else None
                ctx.progress(f"{item_id}: putting it back failed: {exc}")
                ctx.fire_item(item_id, "reattach_refused", {"reattach_error": str(exc), "refused_step": refused})
                return "reattach_refused"
            ctx.progress(f"{item_id}: failed while {reason}; putting it back")
            detached = item.state != "detaching" or not isinstance(exc, StepFailed)
            ctx.fire_item(
                item_id,
                "fail",
                {"failure": reason, "failed_in": item.state, "was_detached": detached,
                 "was_draining": item.state in ("draining", "drained", "terminating")},
            )
            return "fail"
        if trigger is not None:
            ctx.fire_item(item_id, trigger)
        return trigger

    def _say(self, ctx: RunContext, item_id: str, message: str) -> None:
        if self._said.get(item_id) != message:
            self._said[item_id] = message
            ctx.progress(f"{item_id}: {message}")

    def _check_deadline(self, ctx: RunContext, item: ItemRecord, waiting_for: str) -> None:
        deadline = float(item.data["deadline"])
        if ctx.now() >= deadline:
            raise InstanceFailed(
                f"timed out after {format_duration(self.params.timeout)} waiting for {waiting_for}"
            )

    # ---- per-instance states ----------------------------------------------------------------------
    def _detaching(self, ctx: RunContext, item: ItemRecord, snapshot: Snapshot, poller: ClusterPoller) -> str:
        asg, instance_id = self.params.asg, item.item_id

        def reconcile(step: StepRecord) -> Reconciled:
            membership = self.aws.actions.group_membership(instance_id)
            if membership is None or membership.get("AutoScalingGroupName") != asg:
                return Reconciled(True, {"reconciled": "instance no longer in the group"})
            if str(membership.get("LifecycleState", "")).startswith("Detach"):
                return Reconciled(True, {"reconciled": f"instance is {membership['LifecycleState']}"})
            return NOT_HAPPENED

        ctx.step(
            f"detach:{instance_id}",
            {"AutoScalingGroupName": asg, "InstanceIds": [instance_id], "ShouldDecrementDesiredCapacity": False},
            lambda request: self.aws.actions.detach(asg, instance_id),
            reconcile=reconcile,
        )
        return "detached"

    def _waiting_replacement(
        self, ctx: RunContext, item: ItemRecord, snapshot: Snapshot, poller: ClusterPoller
    ) -> str | None:
        self._check_deadline(ctx, item, "the group's replacement instance to be ACTIVE in the cluster")
        self._say(ctx, item.item_id, "waiting for the group's replacement to register as ACTIVE")
        return None

    def _draining(self, ctx: RunContext, item: ItemRecord, snapshot: Snapshot, poller: ClusterPoller) -> str | None:
        arn = str(item.data["container_instance_arn"])
        self._set_container_state(ctx, item.item_id, arn, DRAINING)
        progress = drain_progress(snapshot, item.item_id)
        if progress.done:
            return "drained"
        self._say(ctx, item.item_id, f"draining: {progress.message}")
        self._check_deadline(ctx, item, f"the drain ({progress.message})")
        return None

    def _drained(self, ctx: RunContext, item: ItemRecord, snapshot: Snapshot, poller: ClusterPoller) -> str:
        return "terminate"

    def _terminating(self, ctx: RunContext, item: ItemRecord, snapshot: Snapshot, poller: ClusterPoller) -> str:
        instance_id, arn = item.item_id, str(item.data["container_instance_arn"])
        # Never terminate an instance that runs tasks: look again right before the call.
        fresh = poller.describe_one(instance_id, arn)
        if fresh is not None and fresh.status in ("ACTIVE", DRAINING) and fresh.tasks:
            ctx.progress(f"{instance_id}: {fresh.tasks} tasks appeared before termination; draining again")
            return "tasks_found"

        def reconcile(step: StepRecord) -> Reconciled:
            state = self.aws.actions.instance_state(instance_id)
            if state in TERMINATED_STATES:
                return Reconciled(True, {"state": state})
            return NOT_HAPPENED

        result = ctx.step(
            f"terminate:{instance_id}",
            {"InstanceIds": [instance_id]},
            lambda request: self.aws.actions.terminate(instance_id),
            reconcile=reconcile,
        )
        state = (result or {}).get("state")
        if state not in TERMINATED_STATES:
            raise InstanceFailed(f"TerminateInstances left {instance_id} {state}")
        return "terminated"

    def _reattaching(self, ctx: RunContext, item: ItemRecord, snapshot: Snapshot, poller: ClusterPoller) -> str:
        asg, instance_id = self.params.asg, item.item_id
        if item.data.get("was_draining"):
            self._set_container_state(ctx, instance_id, str(item.data["container_instance_arn"]), "ACTIVE")
        if item.data.get("was_detached"):

            def reconcile(step: StepRecord) -> Reconciled:
                membership = self.aws.actions.group_membership(instance_id)
                if membership is not None and membership.get("AutoScalingGroupName") == asg:
                    return Reconciled(True, {"reconciled": f"instance is {membership.get('LifecycleState')}"})
                return NOT_HAPPENED

            ctx.step(
                f"reattach:{instance_id}",
                {"AutoScalingGroupName": asg, "InstanceIds": [instance_id]},
                lambda request: self.aws.actions.attach(asg, instance_id),
                reconcile=reconcile,
            )
        return "reattached"

    def _set_container_state(self, ctx: RunContext, instance_id: str, arn: str, status: str) -> None:
        cluster = self.params.cluster

        def reconcile(step: StepRecord) -> Reconciled:
            for described in self.aws.ecs.describe_container_instances(cluster, [arn]):
                if described.get("status") == status:
                    return Reconciled(True, {"status": status})
            return NOT_HAPPENED

        def call(request: dict[str, Any]) -> dict[str, Any]:
            updated = self.aws.ecs.set_container_instances_state(cluster, [arn], status)
            return {"status": [ci.get("status") for ci in updated]}

        name = "drain" if status == DRAINING else "activate"
        ctx.step(
            f"{name}:{instance_id}",
            {"cluster": cluster, "containerInstances": [arn], "status": status},
            call,
            reconcile=reconcile,
        )

    # ---- the end --------------------------------------------------------------------------------
    def _finish(self, ctx: RunContext, items: dict[str, ItemRecord]) -> str:
        problems = [_needs_a_person(item, self.params.asg) for item in items.values() if item.state != "terminated"]
        replaced = sum(1 for item in items.values() if item.state == "terminated")
        if not problems:
            ctx.record(reason=f"replaced {replaced} instance(s) of {self.params.asg}")
            return "all_replaced"
        ctx.record(
            reason=f"replaced {replaced} of {len(items)} instance(s); needs a person: " + " | ".join(problems)
        )
        return "some_failed"


def _needs_a_person(item: ItemRecord, asg: str) -> str:
    failure = item.data.get("failure", "")
    if item.state == "reattached":
        extra = (
            f"re-attached to {asg} (desired capacity raised by one, so the group now has one instance more "
            "than before) and still on out-of-date launch settings"
            if item.data.get("was_detached")
            else "never detached; still in the group on out-of-date launch settings"
        )
        return f"{item.item_id}: {failure}; {extra}"
    if item.state == "reattach_failed":
        return _reattach_failed(item, asg)
    return f"{item.item_id}: {failure or 'not started'} (still in {asg}, untouched)"


def _reattach_failed(item: ItemRecord, asg: str) -> str:
    """Where an instance that could not be put back is left, and how a person finishes the job."""
    instance_id = item.item_id
    activate_refused = str(item.data.get("refused_step") or "").startswith("activate:")
    container = (
        "still DRAINING in the cluster (setting it ACTIVE again was refused)"
        if item.data.get("was_draining") and activate_refused
        else "ACTIVE in the cluster again (it may be given tasks)"
    )
    membership = (
        f"detached from {asg}, which kept its replacement"
        if item.data.get("was_detached")
        else f"still in {asg}"
    )
    return (
        f"{instance_id}: {item.data.get('failure', '')}; putting it back failed "
        f"({item.data.get('reattach_error')}). It is {container} and {membership}; it is not terminated. "
        f"A person must either attach it again once {asg} has room (raise its MaxSize, then "
        f"`aws autoscaling attach-instances --auto-scaling-group-name {asg} --instance-ids {instance_id}`), "
        "or set its container instance DRAINING and terminate it once it runs no tasks"
    )
