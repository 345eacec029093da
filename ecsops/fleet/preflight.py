"""Check a fleet before any run is recorded: deploy's own preflight for every service (read calls only), then what
only a fleet can get wrong: one service twice, services in different accounts or regions, strategies it does not
follow yet. Every fault is reported at once."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ecsops.deploy.preflight import Plan, PreflightError, check_against_aws
from ecsops.fleet.fleet_file import key_message
from ecsops.fleet.params import FleetParams, FleetService

if TYPE_CHECKING:
    from ecsops.aws.ecs import EcsGateway

# The deployment strategies deploy-fleet follows; a service on another is refused before anything changes.
FLEET_STRATEGIES: tuple[str, ...] = ("ROLLING", "BLUE_GREEN", "LINEAR", "CANARY")


class FleetPreflightError(ValueError):
    """Bad input found on AWS (nothing was changed): `faults` says what, one line each, as FleetInputError does."""

    def __init__(self, faults: Sequence[str]) -> None:
        self.faults = list(faults)
        super().__init__("\n".join(self.faults))


@dataclass(frozen=True)
class FleetPlan:
    """What a fleet run would do, read from AWS: each service's deploy Plan, in file order."""

    params: FleetParams  # resolved: each service's params are its plan's, with preflight's reads as its snapshot
    plans: tuple[Plan, ...]
    target: str  # the run's own lock key (each service is locked under its own target as well)

    @property
    def services(self) -> tuple[FleetService, ...]:
        return self.params.services


def check_fleet(params: FleetParams, on_retry: Callable[[str], None] | None = None) -> FleetPlan:
    """Read every service and its task definition (no change) and check the fleet as a whole.

    Raises FleetPreflightError with every fault found, or deploy's PreflightAwsError as soon as AWS cannot be
    read (the input is not known to be wrong)."""
    found: list[tuple[int, str]] = []  # (line, fault): reported in the order of the file's lines
    checked: list[tuple[FleetService, Plan]] = []
    ecs = _read_ahead(params, on_retry)
    for service in params.services:
        # First as if no timeout were given: a BLUE_GREEN service's "timeout shorter than the bakes" would hide that
        # the fleet does not follow it at all. A ROLLING service's timeout has no check against AWS to skip.
        untimed = service.params.model_copy(update={"timeout_given": False})
        try:
            plan = check_against_aws(untimed, on_retry=on_retry, ecs=ecs if _shares_session(params, service) else None)
            strategy = plan.snapshot.strategy if plan.snapshot is not None else None
            if strategy is not None and strategy.strategy not in FLEET_STRATEGIES:
                found.append(_fault(params, service, f"deploys {strategy.strategy}: deploy-fleet follows "
                                     f"{', '.join(FLEET_STRATEGIES)} services only (yet); deploy it with "
                                     "`ecsops deploy`"))
                continue
            native_fault = _native_fault(params, service, strategy.strategy) if strategy and strategy.native else None
            if native_fault is not None:
                found.append(_fault(params, service, native_fault))
                continue
            if strategy is not None and strategy.native and service.params.timeout_given:
                plan = check_against_aws(service.params, on_retry=on_retry)  # the timeout checked against the bakes
            else:
                plan = replace(plan, params=plan.params.model_copy(
                    update={"timeout_given": service.params.timeout_given}))
        except PreflightError as exc:
            found.append(_fault(params, service, str(exc)))
            continue
        checked.append((service, plan))
    first_line: dict[str, int] = {}
    for service, plan in checked:
        if plan.target in first_line:
            found.append(_fault(params, service, f"the same service as line {first_line[plan.target]} "
                                 f"({plan.target}): a fleet deploys each service once"))
        else:
            first_line[plan.target] = service.line
    places: dict[tuple[str, str], list[int]] = {}
    for service, plan in checked:
        places.setdefault((plan.identity.account, plan.identity.region), []).append(service.line)
    faults = [fault for _, fault in sorted(found, key=lambda line_fault: line_fault[0])]
    if len(places) > 1:
        where = "; ".join(f"account {account} region {region} (line{'s' if len(lines) > 1 else ''} "
                          f"{', '.join(map(str, lines))})" for (account, region), lines in places.items())
        faults.append(f"{params.file}: services in more than one account or region: {where}; one fleet deploys "
                      "in one account and region (one AWS session): split the file")
    if not params.services:
        faults.append(f"{params.file}: no service to deploy")
    if faults:
        raise FleetPreflightError(faults)
    plans = tuple(plan for _, plan in checked)
    resolved = params.model_copy(update={"services": tuple(
        FleetService(index=service.index, line=service.line, params=plan.params_with_snapshot())
        for service, plan in checked
    )})
    return FleetPlan(params=resolved, plans=plans, target=fleet_target(params.file, plans))


def _shares_session(params: FleetParams, service: FleetService) -> bool:
    """Whether the service is read with the fleet's own session (not in a region its ARNs name otherwise)."""
    return service.params.profile == params.profile and service.params.region in (None, params.region)


def _read_ahead(params: FleetParams, on_retry: Callable[[str], None] | None) -> EcsGateway:
    """A gateway that has read the fleet's services 10 a request, per cluster: each service's own check then takes
    its answer from there. A cluster that cannot be read is left to those checks, which say what is wrong."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ecsops.aws.clients import make_client
    from ecsops.aws.ecs import EcsGateway, EcsNotFound

    ecs = EcsGateway(lambda: make_client("ecs", params.profile, params.region, on_retry=on_retry))
    by_cluster: dict[str, list[str]] = {}
    for service in params.services:
        if _shares_session(params, service):
            by_cluster.setdefault(service.params.cluster, []).append(service.params.service)
    for cluster, services in by_cluster.items():
        with contextlib.suppress(BotoCoreError, ClientError, EcsNotFound):
            ecs.prefetch_services(cluster, services)
    return ecs


def fleet_target(file: str, plans: Sequence[Plan]) -> str:
    """`fleet:ACCOUNT:REGION:STEM#HASH`: the file's stem says which fleet; the hash of the services' target keys
    (sorted) tells two fleets of one name apart and is the same however the file spells or orders them."""
    digest = hashlib.sha256("\n".join(sorted(plan.target for plan in plans)).encode()).hexdigest()[:8]
    first = plans[0].identity
    return f"fleet:{first.account}:{first.region}:{Path(file).stem}#{digest}"


def _native_fault(params: FleetParams, service: FleetService, strategy: str) -> str | None:
    """What a fleet cannot do with a service ECS deploys itself (BLUE_GREEN, LINEAR, CANARY), or None."""
    if params.on_failure == "rollback-all":
        # StopServiceDeployment(ROLLBACK) takes back a deployment in progress only (ECS's API reference); one that
        # finished would need a new deployment of the old revision, with its own bake: not a rollback.
        return (f"deploys {strategy}: --on-failure rollback-all cannot take it back once its service deployment "
                "finished (ECS rolls back a service deployment in progress only); use --on-failure rollback-failed "
                "or stop, or deploy it with `ecsops deploy`")
    if service.params.on_pause == "exit":
        return ("on-pause = \"exit\" would pause the whole fleet at one service's PAUSE hook; in a fleet the service "
                "waits for the hook to be acted on (on-pause = \"wait\", the default)")
    return None


def _fault(params: FleetParams, service: FleetService, what: str) -> tuple[int, str]:
    return service.line, f"{params.file}:{service.line}: service {service.params.service}: {key_message(what)}"
