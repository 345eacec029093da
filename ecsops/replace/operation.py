"""The replace-instances operation: its machines, how a run's params rebuild it, what its document adds."""

from __future__ import annotations

from typing import Any

from ecsops.replace.document import document_fields
from machines.items import ItemMachine
from machines.operation import Operation, OperationSpec
from machines.replace_instances import INSTANCE_DEFINITION, RUN_DEFINITION


def build(params: dict[str, Any]) -> Operation:
    from ecsops.replace.facts import InstanceFacts, ReplaceFacts
    from ecsops.replace.gateways import make_gateways
    from ecsops.replace.handlers import ReplaceHandlers
    from ecsops.replace.instances import WAITS_AFTER, InstanceHandlers
    from ecsops.replace.params import ReplaceParams

    replace = ReplaceParams.from_run(params)
    gateways = make_gateways(params.get("profile"), params.get("region"))
    handlers = ReplaceHandlers(replace, gateways)
    instances = ItemMachine(
        INSTANCE_DEFINITION, InstanceHandlers(replace, gateways).mapping(), InstanceFacts, WAITS_AFTER
    )
    return Operation(
        RUN_DEFINITION,
        {"planned": handlers.planned, "replacing": handlers.replacing},
        facts=ReplaceFacts,
        items=instances,
    )


SPEC = OperationSpec(
    name="replace-instances",
    definition=RUN_DEFINITION,
    build=build,
    document_fields=document_fields,
    item_definition=INSTANCE_DEFINITION,
    describe="replace an Auto Scaling group's out-of-date ECS container instances, in batches",
    extra={"item_describe": "each instance of a replace-instances run: detach, drain, terminate (or re-attach)"},
)
