"""What a deploy-fleet round saw and where its services stand: the answers one batched poll brought, and the groups
of service states the fleet's policy and polls go by."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from store.models import ItemRecord

# A service counts against --max-parallel from its start until its deployment (or rollback) ended.
ROLLING_STATES = frozenset(
    {"planned", "queued", "snapshotted", "registering", "updating", "waiting", "binding", "following", "paused",
     "stopping", "rolling_back", "ecs_rolling_back"}
)
# Done rolling: final, or rolled out and waiting for the fleet's verdict.
DONE_STATES = frozenset(
    {"succeeded", "rolled_back", "rollback_failed", "superseded", "failed", "skipped", "rolled_out"}
)
# A service in one of these has failed: --on-failure decides what the others do.
FAILED_STATES = frozenset(
    {"rolled_back", "rollback_failed", "superseded", "failed", "rolling_back", "ecs_rolling_back", "stopping"}
)
# Started but not changed yet (no UpdateService sent): rollback-all cancels a service found here.
UNCHANGED_STATES = frozenset({"planned", "snapshotted", "registering"})
# States whose handler needs this round's DescribeServices answer for the service (unless it follows its service
# deployment instead: follows_service_deployment).
OBSERVED_STATES = frozenset({"pending", "waiting", "rolling_back", "ecs_rolling_back"})

@dataclass(frozen=True)
class Observation:
    """One poll round: each observed service's DescribeServices answer (None: ECS reported it MISSING), and each
    followed service deployment's DescribeServiceDeployments answer (None: not in the answer)."""

    services: Mapping[str, dict[str, Any] | None]
    reasons: Mapping[str, str] = field(default_factory=dict)  # why a service is None
    deployments: Mapping[str, dict[str, Any] | None] = field(default_factory=dict)
    # The run's first round in the process that preflighted it: preflight's reads, seconds old, are this round's
    # look at the services that start now (as a single deploy takes them), so they are not read again.
    preflight_is_fresh: bool = False
    # The pending services that may start this round (file order, room under --max-parallel).
    startable: frozenset[str] = frozenset()

    def service(self, item_id: str) -> tuple[bool, dict[str, Any] | None]:
        """(polled this round, its answer)."""
        return item_id in self.services, self.services.get(item_id)

    def deployment(self, item_id: str) -> tuple[bool, dict[str, Any] | None]:
        """(its service deployment polled this round, the answer)."""
        return item_id in self.deployments, self.deployments.get(item_id)


def follows_service_deployment(item: ItemRecord) -> bool:
    """Whether the item's state waits on its service deployment (DescribeServiceDeployments), not on
    DescribeServices: following it, paused at a hook, or rolling back by StopServiceDeployment or by ECS."""
    if item.state in ("following", "paused"):
        return True
    if item.state == "stopping":
        return bool(item.data.get("stop_sent"))
    return item.state == "ecs_rolling_back" and item.data.get("service_deployment_arn") is not None


def failed_services(items: Mapping[str, ItemRecord]) -> list[str]:
    """The services that failed so far (being rolled back counts, being taken back by rollback-all does not), in
    item order."""
    return [item_id for item_id, item in items.items()
            if item.state in FAILED_STATES and not item.data.get("reverted_with_fleet")]
