"""deploy-fleet's run states: record one item per service, then poll rounds until every service has its outcome.

A round: one DescribeServices per 10 services of a cluster (only the services whose state needs an answer),
then every service moves as far as that answer allows (ecsops.fleet.service_handlers), then one summary line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace

from ecsops.aws.ecs import ClusterNotFound, EcsGateway
from ecsops.aws.errors import is_transient
from ecsops.deploy.service_deployment_wait import BAKE_FAST_POLLING_SECONDS, BAKE_POLL_INTERVAL
from ecsops.deploy.wait import ADAPTIVE_FIRST_INTERVAL, ADAPTIVE_MAX_INTERVAL
from ecsops.fleet.facts import FleetFacts, ServiceFacts
from ecsops.fleet.observation import (
    DONE_STATES,
    OBSERVED_STATES,
    ROLLING_STATES,
    Observation,
    follows_service_deployment,
)
from ecsops.fleet.params import FleetParams
from ecsops.fleet.verdict import fleet_verdict
from machines.context import RunContext
from machines.polling import AdaptiveInterval
from store.models import ItemRecord

Context = RunContext[FleetFacts]


class FleetPoller:
    """This round's DescribeServices answers for the services that need one, batched by cluster."""

    def __init__(self, fleet: FleetParams, ecs: EcsGateway) -> None:
        self.ecs = ecs
        self._where = {service.name: (service.params.cluster, service.params.service) for service in fleet.services}

    def poll(self, item_ids: list[str], deployments: Mapping[str, str] | None = None) -> Observation:
        """DescribeServices for `item_ids` (10 a request, per cluster), DescribeServiceDeployments for the
        `deployments` (item id -> service deployment ARN; 20 a request)."""
        services, reasons = self._services(item_ids)
        return Observation(services, reasons, self._deployments(deployments or {}))

    def _deployments(self, arns: Mapping[str, str]) -> dict[str, dict[str, object] | None]:
        by_arn = {arn: item_id for item_id, arn in arns.items()}
        found: dict[str, dict[str, object] | None] = {item_id: None for item_id in arns}
        if not by_arn:
            return found
        for deployment in self.ecs.describe_service_deployments(list(by_arn)):  # 20 ARNs a request
            arn = str(deployment.get("serviceDeploymentArn"))
            if arn in by_arn:
                found[by_arn[arn]] = dict(deployment)
        return found

    def _services(self, item_ids: list[str]) -> tuple[dict[str, dict[str, object] | None], dict[str, str]]:
        by_cluster: dict[str, list[str]] = {}
        for item_id in item_ids:
            by_cluster.setdefault(self._where[item_id][0], []).append(item_id)
        services: dict[str, dict[str, object] | None] = {}
        reasons: dict[str, str] = {}
        for cluster, ids in by_cluster.items():
            names = {self._where[item_id][1]: item_id for item_id in ids}
            try:
                found, failures = self.ecs.describe_services(cluster, list(names))
            except ClusterNotFound as exc:
                for item_id in ids:
                    services[item_id], reasons[item_id] = None, exc.message
                continue
            answered = {str(s.get("serviceName")): s for s in found if s.get("status") != "INACTIVE"}
            for name, item_id in names.items():
                services[item_id] = dict(answered[name]) if name in answered else None
                if name not in answered:
                    reasons[item_id] = _failure_reason(name, failures)
        return services, reasons


def _followed_arn(item: ItemRecord) -> str | None:
    return str(item.data["service_deployment_arn"]) if item.data.get("service_deployment_arn") else None


def _failure_reason(name: str, failures: list[object]) -> str:
    for failure in failures:
        if isinstance(failure, Mapping) and str(failure.get("arn", "")).endswith(f"/{name}"):
            return str(failure.get("reason", "MISSING"))
    return "MISSING or INACTIVE"


class FleetHandlers:
    """Handlers for the run states `planned` and `rolling`."""

    def __init__(self, fleet: FleetParams, poll_ecs: EcsGateway) -> None:
        self.fleet = fleet
        self.poller = FleetPoller(fleet, poll_ecs)
        self._looked_at: dict[str, float] = {}  # when each followed service deployment was last described
        self._next_look: float | None = None  # when the first one skipped for its bake is due again

    def planned(self, ctx: Context) -> str:
        for service in self.fleet.services:
            ctx.add_item(service.name, ServiceFacts(index=service.index, preflight=service.params.snapshot))
        limit = f", at most {self.fleet.max_parallel} at once" if self.fleet.max_parallel else ""
        ctx.progress(f"{len(self.fleet.services)} services{limit}; --on-failure {self.fleet.on_failure}")
        return "start"

    def rolling(self, ctx: Context) -> str:
        # deploy's adaptive polling (2s growing to 6s), or the file's poll-interval; a round that moved a service
        # starts it over.
        polling = AdaptiveInterval(ADAPTIVE_FIRST_INTERVAL, ADAPTIVE_MAX_INTERVAL, fixed=self.fleet.poll_interval)
        items = ctx.items()
        # Preflight's reads were made by this very process moments ago: the first round takes them as its look.
        fresh = ctx.facts.poll_rounds == 0 and all(
            service.params.snapshot is not None and service.params.snapshot.read_here for service in self.fleet.services
        )
        while True:
            if all(item.state in _FINAL for item in items.values()):
                trigger, reason = fleet_verdict(items)
                ctx.set_reason(reason)
                return trigger
            now = ctx.now()
            startable = self._startable(items)
            observed = self._waiting(items) + ([] if fresh else startable)
            followed = self._followed(items, now)
            if not observed and not followed and self._next_look is not None:
                # Every service waits out a bake: nothing to ask ECS until the first of them is due again.
                ctx.sleep(max(0.0, self._next_look - now))
                continue
            try:
                observation = replace(self.poller.poll(observed, followed), preflight_is_fresh=fresh,
                                      startable=frozenset(startable))
                fresh = False
            except Exception as exc:
                if not is_transient(exc):
                    raise
                ctx.progress(f"poll failed ({type(exc).__name__}: {exc}); trying again")
                ctx.sleep(polling.after(False))
                continue
            ctx.record(poll_rounds=ctx.facts.poll_rounds + 1)
            changed = ctx.drive_items(observation)
            items = ctx.items()
            ctx.progress(summary(items))  # one line per round: where the fleet stands
            if not all(item.state in _FINAL for item in items.values()):
                ctx.sleep(polling.after(changed))

    @staticmethod
    def _waiting(items: Mapping[str, ItemRecord]) -> list[str]:
        """The services this round must look at with DescribeServices: those waiting on a deployment."""
        return [item_id for item_id, item in items.items()
                if item.state in OBSERVED_STATES - {"pending"} and not follows_service_deployment(item)]

    def _startable(self, items: Mapping[str, ItemRecord]) -> list[str]:
        """The pending services that may start this round, in file order: as many as --max-parallel leaves room
        for. Each starts on a fresh answer (this round's look, or preflight's reads in the first round)."""
        pending = sorted((item_id for item_id, item in items.items() if item.state == "pending"),
                         key=lambda item_id: int(items[item_id].data.get("index", 0)))
        if self.fleet.max_parallel is None:
            return pending
        rolling = sum(1 for item in items.values() if item.state in ROLLING_STATES)
        return pending[: max(0, self.fleet.max_parallel - rolling)]

    def _followed(self, items: Mapping[str, ItemRecord], now: float) -> dict[str, str]:
        """The service deployments this round must look at: of the services following theirs (BLUE_GREEN, LINEAR,
        CANARY), paused at a hook, or rolled back by ECS or by StopServiceDeployment. One in a bake with more than a
        minute of it left is looked at every BAKE_POLL_INTERVAL only, as a single deploy does: only a rollback can
        happen then, and ECS carries it out by itself."""
        followed: dict[str, str] = {}
        self._next_look = None
        for item_id, item in items.items():
            arn = _followed_arn(item)
            if arn is None or not follows_service_deployment(item):
                continue
            bake_end = item.data.get("bake_ends_not_before")
            baking = bake_end is not None and float(bake_end) - now > BAKE_FAST_POLLING_SECONDS
            due = self._looked_at.get(item_id, float("-inf")) + BAKE_POLL_INTERVAL
            if baking and now < due:
                self._next_look = due if self._next_look is None else min(self._next_look, due)
                continue
            self._looked_at[item_id] = now
            followed[item_id] = arn
        return followed


_FINAL = frozenset(DONE_STATES - {"rolled_out"})


def summary(items: Mapping[str, ItemRecord]) -> str:
    """`7/12 done, 4 rolling, 1 rolled back`: where the fleet stands after a round."""
    counts = Counter(item.state for item in items.values())
    done = sum(count for state, count in counts.items() if state in DONE_STATES)
    parts = [f"{done}/{len(items)} done"]
    rolling = sum(count for state, count in counts.items() if state in ROLLING_STATES)
    if rolling:
        parts.append(f"{rolling} rolling")
    for state in ("pending", "rolled_out", "succeeded", "rolled_back", "rollback_failed", "superseded", "failed",
                  "skipped"):
        if counts.get(state):
            parts.append(f"{counts[state]} {state.replace('_', ' ')}")
    return ", ".join(parts)
