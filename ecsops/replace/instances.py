"""The I/O of one instance's replacement: a handler per state of the instance machine, driven by the engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ecsops.replace.facts import InstanceFacts
from ecsops.replace.gateways import ReplaceGateways
from ecsops.replace.params import ReplaceParams
from ecsops.replace.poll import ClusterPoller
from ecsops.replace.verdict import DRAINING, Snapshot, WaitingInstance, assign_replacements, drain_progress
from machines.durations import format_duration
from machines.errors import StepFailed
from machines.items import ItemContext, ItemHandler
from machines.steps import NOT_HAPPENED, Reconciled
from store.models import ItemRecord, StepRecord

SAY_EVERY = 15.0  # seconds between progress lines while an instance's wait does not change

TERMINATED_STATES = ("shutting-down", "terminated")
PUT_BACK_STATES = frozenset({"reattaching", "reattached", "reattach_failed"})
FINAL_STATES = frozenset({"terminated", "reattached", "reattach_failed", "skipped"})
DRAINING_STATES = frozenset({"draining", "drained", "terminating"})
# After these triggers the instance waits for the next poll: its new state needs a fresh look at the world.
WAITS_AFTER = frozenset({"detached", "tasks_found"})

Instance = ItemContext[InstanceFacts]


class InstanceFailed(Exception):
    """This instance cannot be replaced; it is put back (re-activated, re-attached)."""


class Observation:
    """What the run handler hands every instance at one poll: the snapshot, and the poller for a fresh look."""

    def __init__(self, snapshot: Snapshot, poller: ClusterPoller) -> None:
        self.snapshot = snapshot
        self.poller = poller


class InstanceHandlers:
    """One handler per non-final state of the instance machine; each returns its trigger or None (wait)."""

    def __init__(self, params: ReplaceParams, gateways: ReplaceGateways) -> None:
        self.params = params
        self.aws = gateways
        self._said: dict[str, tuple[str, float]] = {}

    def mapping(self) -> dict[str, ItemHandler]:
        handlers: dict[str, Callable[[Instance], str | None]] = {
            "pending": self.pending,
            "detaching": self.detaching,
            "waiting_replacement": self.waiting_replacement,
            "draining": self.draining,
            "drained": self.drained,
            "terminating": self.terminating,
            "reattaching": self.reattaching,
        }
        return {state: _put_back_on_failure(handler) for state, handler in handlers.items()}

    # ---- pending: start within the batch, or skip after a failure ------------------------------------
    def pending(self, item: Instance) -> str | None:
        siblings = list(item.siblings.values())
        failed = [i for i in siblings if i.state in PUT_BACK_STATES]
        if failed:
            item.note(failure=f"not started: {failed[0].item_id} failed first")
            return "skip"
        in_flight = sum(1 for i in siblings if i.state not in FINAL_STATES and i.state != "pending")
        if in_flight >= self.params.batch_size:
            return None
        # The deadline and the group's instances are fixed before the detach, so a resume keeps both.
        item.run.deadline(_deadline_name(item), self.params.timeout)
        item.note(known_before=sorted(_observed(item).snapshot.group_instances))
        return "start"

    def detaching(self, item: Instance) -> str:
        asg, instance_id = self.params.asg, item.item_id

        def reconcile(step: StepRecord) -> Reconciled:
            membership = self.aws.actions.group_membership(instance_id)
            if membership is None or membership.get("AutoScalingGroupName") != asg:
                return Reconciled(True, {"reconciled": "instance no longer in the group"})
            if str(membership.get("LifecycleState", "")).startswith("Detach"):
                return Reconciled(True, {"reconciled": f"instance is {membership['LifecycleState']}"})
            return NOT_HAPPENED

        item.step(
            f"detach:{instance_id}",
            {"AutoScalingGroupName": asg, "InstanceIds": [instance_id], "ShouldDecrementDesiredCapacity": False},
            lambda request: self.aws.actions.detach(asg, instance_id),
            reconcile=reconcile,
        )
        return "detached"

    def waiting_replacement(self, item: Instance) -> str | None:
        snapshot = _observed(item).snapshot
        siblings = item.siblings.values()
        claimed = [str(i.data["replacement"]) for i in siblings if i.data.get("replacement")]
        waiting = [
            WaitingInstance(i.item_id, frozenset(i.data.get("known_before") or ()))
            for i in siblings
            if i.state == "waiting_replacement"
        ]
        replacement = assign_replacements(snapshot, waiting, claimed).get(item.item_id)
        if replacement is None:
            self._check_deadline(item, "the group's replacement instance to be ACTIVE in the cluster")
            self._say(item, "waiting for the replacement to be ACTIVE")
            return None
        view = snapshot.container_instances[replacement]
        item.run.progress(f"{item.item_id}: replacement {replacement} is ACTIVE in cluster {self.params.cluster}")
        item.note(replacement=replacement, replacement_container_instance_arn=view.arn)
        return "replacement_active"

    def draining(self, item: Instance) -> str | None:
        self._set_container_state(item, DRAINING)
        progress = drain_progress(_observed(item).snapshot, item.item_id)
        if progress.done:
            return "drained"
        self._say(item, f"draining: {progress.message}")
        self._check_deadline(item, f"the drain ({progress.message})")
        return None

    def drained(self, item: Instance) -> str:
        return "terminate"

    def terminating(self, item: Instance) -> str:
        instance_id, arn = item.item_id, item.facts.arn()
        # Never terminate an instance that runs tasks: look again right before the call.
        fresh = _observed(item).poller.describe_one(instance_id, arn)
        if fresh is not None and fresh.status in ("ACTIVE", DRAINING) and fresh.tasks:
            item.run.progress(f"{instance_id}: {fresh.tasks} tasks appeared before termination; draining again")
            return "tasks_found"

        def reconcile(step: StepRecord) -> Reconciled:
            state = self.aws.actions.instance_state(instance_id)
            if state in TERMINATED_STATES:
                return Reconciled(True, {"state": state})
            return NOT_HAPPENED

        result = item.step(
            f"terminate:{instance_id}",
            {"InstanceIds": [instance_id]},
            lambda request: self.aws.actions.terminate(instance_id),
            reconcile=reconcile,
        )
        state = (result or {}).get("state")
        if state not in TERMINATED_STATES:
            raise InstanceFailed(f"TerminateInstances left {instance_id} {state}")
        return "terminated"

    def reattaching(self, item: Instance) -> str:
        asg, instance_id, facts = self.params.asg, item.item_id, item.facts
        if facts.was_draining:
            self._set_container_state(item, "ACTIVE")
        if facts.was_detached:

            def reconcile(step: StepRecord) -> Reconciled:
                membership = self.aws.actions.group_membership(instance_id)
                if membership is not None and membership.get("AutoScalingGroupName") == asg:
                    return Reconciled(True, {"reconciled": f"instance is {membership.get('LifecycleState')}"})
                return NOT_HAPPENED

            item.step(
                f"reattach:{instance_id}",
                {"AutoScalingGroupName": asg, "InstanceIds": [instance_id]},
                lambda request: self.aws.actions.attach(asg, instance_id),
                reconcile=reconcile,
            )
        return "reattached"

    # ---- helpers ---------------------------------------------------------------------------------
    def _say(self, item: Instance, message: str) -> None:
        """`i-0abc: draining: 3 tasks left | 1m05s elapsed, 13m55s left`: when the message changes, and at
        least every SAY_EVERY seconds of the run's clock while it does not."""
        now = item.run.now()
        said = self._said.get(item.item_id)
        if said is not None and said[0] == message and now - said[1] < SAY_EVERY:
            return
        self._said[item.item_id] = (message, now)
        deadline = item.run.deadline(_deadline_name(item), self.params.timeout)
        elapsed = max(0.0, now - (deadline - self.params.timeout))
        left = max(0.0, deadline - now)
        item.run.progress(
            f"{item.item_id}: {message} | {format_duration(elapsed)} elapsed, {format_duration(left)} left"
        )

    def _check_deadline(self, item: Instance, waiting_for: str) -> None:
        if item.run.now() >= item.run.deadline(_deadline_name(item), self.params.timeout):
            raise InstanceFailed(f"timed out after {format_duration(self.params.timeout)} waiting for {waiting_for}")

    def _set_container_state(self, item: Instance, status: str) -> None:
        cluster, arn = self.params.cluster, item.facts.arn()

        def reconcile(step: StepRecord) -> Reconciled:
            for described in self.aws.ecs.describe_container_instances(cluster, [arn]):
                if described.get("status") == status:
                    return Reconciled(True, {"status": status})
            return NOT_HAPPENED

        def call(request: dict[str, Any]) -> dict[str, Any]:
            updated = self.aws.ecs.set_container_instances_state(cluster, [arn], status)
            return {"status": [ci.get("status") for ci in updated]}

        name = "drain" if status == DRAINING else "activate"
        item.step(
            f"{name}:{item.item_id}",
            {"cluster": cluster, "containerInstances": [arn], "status": status},
            call,
            reconcile=reconcile,
        )


def _deadline_name(item: Instance) -> str:
    return f"replace:{item.item_id}"


def _observed(item: Instance) -> Observation:
    observation = item.observation
    assert isinstance(observation, Observation)
    return observation


def _put_back_on_failure(handler: Callable[[Instance], str | None]) -> ItemHandler:
    """An instance that cannot be replaced is put back: a refused step or a timeout becomes the `fail`
    trigger (or `reattach_refused` while putting it back), with what happened in its facts."""

    def guarded(item: Instance) -> str | None:
        try:
            return handler(item)
        except (StepFailed, InstanceFailed) as exc:
            if item.state == "reattaching":
                item.run.progress(f"{item.item_id}: putting it back failed: {exc}")
                item.note(reattach_error=str(exc), refused_step=exc.step if isinstance(exc, StepFailed) else None)
                return "reattach_refused"
            item.run.progress(f"{item.item_id}: failed while {item.state}: {exc}; putting it back")
            item.note(
                failure=f"{item.state}: {exc}",
                failed_in=item.state,
                was_detached=item.state != "detaching" or not isinstance(exc, StepFailed),
                was_draining=item.state in DRAINING_STATES,
            )
            return "fail"

    return guarded


def needs_a_person(item: ItemRecord, asg: str) -> str:
    """What is left to do for an instance that was not replaced, in a sentence for the run's reason."""
    facts = InstanceFacts.model_validate(item.data)
    failure = facts.failure or ""
    if item.state == "reattached":
        extra = (
            f"re-attached to {asg} (desired capacity raised by one, so the group now has one instance more "
            "than before) and still on out-of-date launch settings"
            if facts.was_detached
            else "never detached; still in the group on out-of-date launch settings"
        )
        return f"{item.item_id}: {failure}; {extra}"
    if item.state == "reattach_failed":
        return _reattach_failed(item.item_id, facts, asg)
    return f"{item.item_id}: {failure or 'not started'} (still in {asg}, untouched)"


def _reattach_failed(instance_id: str, facts: InstanceFacts, asg: str) -> str:
    """Where an instance that could not be put back is left, and how a person finishes the job."""
    activate_refused = (facts.refused_step or "").startswith("activate:")
    container = (
        "still DRAINING in the cluster (setting it ACTIVE again was refused)"
        if facts.was_draining and activate_refused
        else "ACTIVE in the cluster again (it may be given tasks)"
    )
    membership = f"detached from {asg}, which kept its replacement" if facts.was_detached else f"still in {asg}"
    return (
        f"{instance_id}: {facts.failure or ''}; putting it back failed "
        f"({facts.reattach_error}). It is {container} and {membership}; it is not terminated. "
        f"A person must either attach it again once {asg} has room (raise its MaxSize, then "
        f"`aws autoscaling attach-instances --auto-scaling-group-name {asg} --instance-ids {instance_id}`), "
        "or set its container instance DRAINING and terminate it once it runs no tasks"
    )
