"""The deploy-fleet operation: its machines bound to handlers, the service locks it holds, its run document."""

from __future__ import annotations

from typing import Any

from ecsops.fleet.document import document_fields
from machines.deploy_fleet import FLEET_DEFINITION, SERVICE_DEFINITION
from machines.operation import Operation, OperationSpec

# After these a service waits for the next round's poll instead of being judged on an answer read before.
WAITS_AFTER = frozenset({"updated"})


def build(params: dict[str, Any]) -> Operation:
    """Rebuild the operation from a run's recorded params; no AWS call is made until a handler runs."""
    from ecsops.aws.clients import make_client
    from ecsops.aws.ecs import EcsGateway
    from ecsops.aws.elbv2 import Elbv2Gateway
    from ecsops.deploy.handlers import RetryNotices
    from ecsops.fleet.facts import FleetFacts, ServiceFacts
    from ecsops.fleet.handlers import FleetHandlers
    from ecsops.fleet.params import FleetParams
    from ecsops.fleet.service_handlers import ServiceHandlers
    from machines.items import ItemMachine

    fleet = FleetParams.model_validate(params)
    profile, region = fleet.profile, fleet.region
    notices = RetryNotices()
    ecs = EcsGateway(
        lambda: make_client("ecs", profile, region, on_retry=notices),
        lambda: make_client("ecs", profile, region, retry=False),
    )
    # Polls make one attempt each: the round tries again on its own schedule, and says so.
    poll_ecs = EcsGateway(lambda: make_client("ecs", profile, region, attempts=1))
    elbv2 = Elbv2Gateway(lambda: make_client("elbv2", profile, region, on_retry=notices))
    services = ItemMachine(
        SERVICE_DEFINITION, ServiceHandlers(fleet, ecs, elbv2, poll_ecs, notices).mapping(), ServiceFacts, WAITS_AFTER
    )
    run = FleetHandlers(fleet, poll_ecs)
    targets = {service.name: service.target for service in fleet.services}

    def hold_of_step(step: str) -> str | None:
        """A service's step (`update_service:demo/api`) acts on that service: its lock is checked before the call."""
        return targets.get(step.partition(":")[2])

    return Operation(
        FLEET_DEFINITION,
        {"planned": run.planned, "rolling": run.rolling},
        facts=FleetFacts,
        items=services,
        holds=fleet.targets,
        hold_of_step=hold_of_step,
    )


SPEC = OperationSpec(
    name="deploy-fleet",
    definition=FLEET_DEFINITION,
    build=build,
    document_fields=document_fields,
    item_definition=SERVICE_DEFINITION,
    describe="deploy many services as one run: each walks deploy's stages; one verdict, one failure policy",
    extra={"item_describe": "each service of a deploy-fleet run: deploy's stages, then kept or reverted",
           "item_noun": "service"},
)
