"""The deploy machine as data: snapshot, register, update, wait, and the ways a deploy can end."""

from __future__ import annotations

from machines.definition import MachineDefinition, Transition

DEPLOY = MachineDefinition(
    name="deploy",
    states=(
        "planned",
        "snapshotted",
        "registering",
        "updating",
        "waiting",
        "rolling_back",
        "ecs_rolling_back",
        "succeeded",
        "rolled_back",
        "rollback_failed",
        "superseded",
        "failed",
    ),
    initial="planned",
    transitions=(
        Transition.of("snapshot", "planned", "snapshotted"),
        Transition.of("register", "snapshotted", "registering"),
        Transition.of("reuse", "snapshotted", "updating"),
        Transition.of("registered", "registering", "updating"),
        Transition.of("updated", "updating", "waiting"),
        Transition.of("stable", "waiting", "succeeded"),
        Transition.of("deploy_failed", "waiting", "rolling_back"),
        Transition.of("timed_out", "waiting", "rolling_back"),
        Transition.of("ecs_rolled_back", "waiting", "ecs_rolling_back"),
        Transition.of("gave_up", "waiting", "failed"),
        Transition.of("rollback_done", ("rolling_back", "ecs_rolling_back"), "rolled_back"),
        Transition.of("rollback_failed", ("rolling_back", "ecs_rolling_back"), "rollback_failed"),
        Transition.of("superseded", ("updating", "waiting", "rolling_back", "ecs_rolling_back"), "superseded"),
        Transition.of("fail", ("planned", "snapshotted", "registering", "updating"), "failed"),
    ),
    final_statuses={
        "succeeded": "succeeded",
        "rolled_back": "rolled_back",
        "rollback_failed": "rollback_failed",
        "superseded": "superseded",
        "failed": "failed",
    },
    steps={
        "registering": ("register_task_definition",),
        "updating": ("update_service",),
        "rolling_back": ("rollback_update_service",),
    },
    descriptions={
        "planned": "inputs recorded; nothing read or changed yet",
        "snapshotted": "rollback target recorded: task definition, desired count, deployments",
        "registering": "registering the edited task definition revision (tagged with the run id)",
        "updating": "updating the service: new task definition, desired count, forced new deployment",
        "waiting": "waiting for our deployment to become the only one with running >= desired",
        "rolling_back": "updating the service back to the recorded task definition and desired count, then waiting",
        "ecs_rolling_back": "ECS's circuit breaker is rolling the service back; waiting for that to finish",
        "succeeded": "our deployment finished",
        "rolled_back": "the change failed; the previous task definition and desired count are restored",
        "rollback_failed": "the change failed and so did the rollback: the service needs a person",
        "superseded": "another deployment became PRIMARY; nothing was rolled back",
        "failed": "the deploy failed before it changed the service, or was left failed (--no-rollback)",
    },
)
