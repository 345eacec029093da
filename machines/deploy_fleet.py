"""The deploy-fleet machines as data: the run's own machine, and each service's, which walks deploy's stages.

A service item moves through the states of the deploy machine (machines.deploy) with the same names, triggers and
durable steps (named `STEP:{item}`), driven by deploy's own handlers. What a fleet adds:
- `pending`: not started yet (--max-parallel), or never started (`skipped`) once the failure policy says so;
- `rolled_out` (--on-failure rollback-all only, reached by `hold`): its deployment is stable, but the fleet's
  verdict is not in yet: it may still be taken back (`revert`), else it is kept (`keep` -> succeeded);
- `cancel`: a service not changed yet when the fleet gave up (rollback-all) ends `skipped`, unchanged;
- `revert`: a service whose deployment is in progress or done goes back to its snapshot (rollback-all); a
  BLUE_GREEN, LINEAR or CANARY service only while its service deployment is in progress (StopServiceDeployment).
"""

from __future__ import annotations

from machines.definition import MachineDefinition, Transition

FLEET_DEFINITION = MachineDefinition(
    name="deploy-fleet",
    states=("planned", "rolling", "succeeded", "rolled_back", "rollback_failed", "superseded", "failed"),
    initial="planned",
    transitions=(
        Transition.of("start", "planned", "rolling"),
        Transition.of("all_succeeded", "rolling", "succeeded"),
        Transition.of("some_rolled_back", "rolling", "rolled_back"),
        Transition.of("some_rollback_failed", "rolling", "rollback_failed"),
        Transition.of("some_superseded", "rolling", "superseded"),
        Transition.of("some_failed", "rolling", "failed"),
    ),
    final_statuses={
        "succeeded": "succeeded",
        "rolled_back": "rolled_back",
        "rollback_failed": "rollback_failed",
        "superseded": "superseded",
        "failed": "failed",
    },
    descriptions={
        "planned": "inputs recorded: one item per service of the file",
        "rolling": "every service walks deploy's stages, --max-parallel at a time, one batched poll per round",
        "succeeded": "every service's deployment finished",
        "rolled_back": "some service failed and was rolled back (no rollback failed)",
        "rollback_failed": "some service's rollback failed: it needs a person",
        "superseded": "another deployment replaced ours on some service",
        "failed": "some service failed without a rollback, or was not deployed",
    },
)

# Where a service has been changed (UpdateService sent) and can still be taken back by rollback-all.
_REVERTIBLE = ("waiting", "rolled_out")
# Where a service has not been changed yet: rollback-all cancels it.
_UNCHANGED = ("planned", "snapshotted", "registering")

SERVICE_DEFINITION = MachineDefinition(
    name="deploy-fleet.service",
    states=(
        "pending",
        "planned",
        "queued",
        "snapshotted",
        "registering",
        "updating",
        "waiting",
        "binding",
        "following",
        "paused",
        "stopping",
        "rolled_out",
        "rolling_back",
        "ecs_rolling_back",
        "succeeded",
        "rolled_back",
        "rollback_failed",
        "superseded",
        "failed",
        "skipped",
    ),
    initial="pending",
    transitions=(
        Transition.of("start", "pending", "planned"),
        Transition.of("skip", "pending", "skipped"),
        Transition.of("snapshot", "planned", "snapshotted"),
        Transition.of("queue", "planned", "queued"),
        Transition.of("turn_came", "queued", "planned"),
        Transition.of("register", "snapshotted", "registering"),
        Transition.of("reuse", "snapshotted", "updating"),
        Transition.of("registered", "registering", "updating"),
        Transition.of("updated", "updating", "waiting"),
        # BLUE_GREEN, LINEAR, CANARY: ECS's own service deployment, found, then followed to its end.
        Transition.of("started", "updating", "binding"),
        Transition.of("bound", "binding", "following"),
        Transition.of("unbound", "binding", "failed"),
        Transition.of("stable", "following", "succeeded"),
        Transition.of("hook_paused", "following", "paused"),
        Transition.of("hook_acted", "paused", "following"),
        Transition.of("timed_out", "following", "stopping"),
        Transition.of("deploy_failed", "following", "stopping"),
        Transition.of("revert", "following", "stopping"),
        Transition.of("ecs_rolled_back", "following", "ecs_rolling_back"),
        Transition.of("gave_up", "following", "failed"),
        Transition.of("stopped", "following", "failed"),
        Transition.of("finished_anyway", "stopping", "succeeded"),
        Transition.of("stable", "waiting", "succeeded"),
        # rollback-all: a stable service waits for the fleet's verdict, which may still take it back.
        Transition.of("hold", ("waiting", "following"), "rolled_out"),
        Transition.of("keep", "rolled_out", "succeeded"),
        Transition.of("deploy_failed", "waiting", "rolling_back"),
        Transition.of("timed_out", "waiting", "rolling_back"),
        Transition.of("revert", _REVERTIBLE, "rolling_back"),
        Transition.of("ecs_rolled_back", "waiting", "ecs_rolling_back"),
        Transition.of("gave_up", "waiting", "failed"),
        Transition.of("rollback_done", ("rolling_back", "ecs_rolling_back", "stopping"), "rolled_back"),
        Transition.of("rollback_failed", ("rolling_back", "ecs_rolling_back", "stopping"), "rollback_failed"),
        Transition.of(
            "superseded",
            ("updating", "waiting", "rolling_back", "ecs_rolling_back", "following", "stopping"),
            "superseded",
        ),
        Transition.of("cancel", _UNCHANGED, "skipped"),
        Transition.of("fail", ("planned", "queued", "snapshotted", "registering", "updating"), "failed"),
    ),
    final_statuses={
        "succeeded": "succeeded",
        "rolled_back": "rolled_back",
        "rollback_failed": "rollback_failed",
        "superseded": "superseded",
        "failed": "failed",
        "skipped": "skipped",
    },
    steps={
        "registering": ("register_task_definition:{item}",),
        "updating": ("update_service:{item}",),
        "binding": ("bind_service_deployment:{item}",),
        "stopping": ("stop_service_deployment:{item}",),
        "rolling_back": ("rollback_update_service:{item}",),
    },
    descriptions={
        "pending": "not started: waiting for a slot (--max-parallel)",
        "planned": "started: rollback target about to be recorded",
        "queued": "another deployment of the service is in progress: waiting for it to end before changing anything",
        "snapshotted": "rollback target recorded: task definition, desired count, deployments",
        "registering": "registering the edited task definition revision (tagged with the run id and service)",
        "updating": "updating the service: new task definition, desired count, forced new deployment",
        "waiting": "waiting for our deployment to become the only one with running >= desired",
        "binding": "finding ECS's service deployment of our UpdateService (BLUE_GREEN, LINEAR, CANARY)",
        "following": "following our service deployment through its stages, traffic shifts and bake time",
        "paused": "a PAUSE lifecycle hook awaits a person (aws ecs continue-service-deployment); the others go on",
        "stopping": "rolling back with StopServiceDeployment(ROLLBACK), then waiting for ECS to finish it",
        "rolled_out": "our deployment finished; kept unless the fleet is rolled back (--on-failure rollback-all only)",
        "rolling_back": "updating the service back to its recorded task definition and desired count, then waiting",
        "ecs_rolling_back": "ECS's circuit breaker is rolling the service back; waiting for it to finish",
        "succeeded": "our deployment finished and was kept",
        "rolled_back": "the service's previous task definition and desired count are restored",
        "rollback_failed": "the rollback failed: the service needs a person",
        "superseded": "another deployment replaced ours; nothing was rolled back",
        "failed": "the service failed before it was changed, or was left failed (no-rollback)",
        "skipped": "never changed: the fleet stopped (--on-failure) before this service was updated",
    },
)
