"""The replace-instances machines as data: the run's overall machine and each instance's own machine."""

from __future__ import annotations

from machines.definition import MachineDefinition, Transition

RUN_DEFINITION = MachineDefinition(
    name="replace-instances",
    states=("planned", "replacing", "succeeded", "failed"),
    initial="planned",
    transitions=(
        Transition.of("plan", "planned", "replacing"),
        Transition.of("nothing_to_replace", "planned", "succeeded"),
        Transition.of("plan_failed", "planned", "failed"),
        Transition.of("all_replaced", "replacing", "succeeded"),
        Transition.of("some_failed", "replacing", "failed"),
    ),
    final_statuses={"succeeded": "succeeded", "failed": "failed"},
    descriptions={
        "planned": "find the group's out-of-date instances registered in the cluster",
        "replacing": "move every instance through its own machine, --batch-size at a time",
    },
)

# Where an instance can fail and still be put back: every state after it left `pending` and before
# its termination was asked for.
_RECOVERABLE = ("detaching", "waiting_replacement", "draining", "drained", "terminating")

INSTANCE_DEFINITION = MachineDefinition(
    name="replace-instances.instance",
    states=(
        "pending",
        "detaching",
        "waiting_replacement",
        "draining",
        "drained",
        "terminating",
        "terminated",
        "reattaching",
        "reattached",
        "reattach_failed",
        "skipped",
    ),
    initial="pending",
    transitions=(
        Transition.of("start", "pending", "detaching"),
        Transition.of("skip", "pending", "skipped"),
        Transition.of("detached", "detaching", "waiting_replacement"),
        Transition.of("replacement_active", "waiting_replacement", "draining"),
        Transition.of("drained", "draining", "drained"),
        Transition.of("terminate", "drained", "terminating"),
        # The re-check right before TerminateInstances found tasks again: drain again, never terminate.
        Transition.of("tasks_found", "terminating", "draining"),
        Transition.of("terminated", "terminating", "terminated"),
        Transition.of("fail", _RECOVERABLE, "reattaching"),
        Transition.of("reattached", "reattaching", "reattached"),
        Transition.of("reattach_refused", "reattaching", "reattach_failed"),
    ),
    final_statuses={
        "terminated": "succeeded",
        "reattached": "failed",
        "reattach_failed": "failed",
        "skipped": "failed",
    },
    steps={
        "detaching": ("detach:{item}",),
        "draining": ("drain:{item}",),
        "terminating": ("terminate:{item}",),
        "reattaching": ("activate:{item}", "reattach:{item}"),
    },
    descriptions={
        "pending": "out of date, not started",
        "detaching": "DetachInstances without decrementing desired capacity (the group launches a replacement)",
        "waiting_replacement": "until a new instance of the group is ACTIVE in the cluster",
        "draining": "container instance DRAINING until it runs no tasks and services are at desired count",
        "drained": "no tasks left",
        "terminating": "TerminateInstances, after re-checking it runs no tasks",
        "reattaching": "failed or timed out: container instance back to ACTIVE, instance re-attached",
    },
)
