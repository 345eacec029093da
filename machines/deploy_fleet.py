"""The deploy-fleet machines as data: the run's own machine, and each service's, which walks deploy's stages.

A service item's machine is the deploy machine (machines.deploy), built from it: the same states, triggers and
durable steps (named `STEP:{item}`), driven by deploy's own handlers. What a fleet adds:
- `pending`: not started yet (--max-parallel), or never started (`skipped`) once the failure policy says so;
- `rolled_out` (--on-failure rollback-all only, reached by `hold`): its deployment is stable, but the fleet's
  verdict is not in yet: it may still be taken back (`revert`), else it is kept (`keep` -> succeeded);
- `cancel`: a service not changed yet when the fleet gave up (rollback-all) ends `skipped`, unchanged;
- `revert`: a service whose deployment is in progress or done goes back to its snapshot (rollback-all, which
  preflight refuses for a BLUE_GREEN, LINEAR or CANARY service: ECS rolls back only a deployment in progress).
"""

from __future__ import annotations

from machines.definition import MachineDefinition, Transition
from machines.deploy import DEPLOY

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


def _service_definition() -> MachineDefinition:
    """deploy's machine, each step per service (`STEP:{item}`), with the states and triggers a fleet adds. Built
    from DEPLOY, so a service walks deploy's stages by construction: a change to deploy's machine is the fleet's."""
    final = DEPLOY.final_states
    return MachineDefinition(
        name="deploy-fleet.service",
        states=(
            "pending",
            *(state for state in DEPLOY.states if state not in final),
            "rolled_out",
            *(state for state in DEPLOY.states if state in final),
            "skipped",
        ),
        initial="pending",
        transitions=(
            Transition.of("start", "pending", "planned"),
            Transition.of("skip", "pending", "skipped"),
            *DEPLOY.transitions,
            # rollback-all: a stable service waits for the fleet's verdict, which may still take it back.
            Transition.of("hold", "waiting", "rolled_out"),
            Transition.of("keep", "rolled_out", "succeeded"),
            Transition.of("revert", _REVERTIBLE, "rolling_back"),
            Transition.of("cancel", _UNCHANGED, "skipped"),
        ),
        final_statuses={**DEPLOY.final_statuses, "skipped": "skipped"},
        steps={state: tuple(f"{name}:{{item}}" for name in names) for state, names in DEPLOY.steps.items()},
        descriptions={
            **DEPLOY.descriptions,
            "pending": "not started: waiting for a slot (--max-parallel)",
            "planned": "started: rollback target about to be recorded",
            "registering": "registering the edited task definition revision (tagged with the run id and service)",
            "paused": "a PAUSE lifecycle hook awaits a person (ecsops approve RUN_ID --service C/S); the others go on",
            "rolled_out": "our deployment finished; kept unless the fleet is rolled back (--on-failure rollback-all)",
            "skipped": "never changed: the fleet stopped (--on-failure) before this service was updated",
        },
    )


SERVICE_DEFINITION = _service_definition()
