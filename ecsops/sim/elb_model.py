"""ELBv2 model: service task targets, their health check warm-up and deregistration draining."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moto.elbv2.models import FakeHealthStatus, elbv2_backends

from ecsops.sim.clock import VirtualClock

DEFAULT_DEREGISTRATION_DELAY = 300.0


@dataclass
class TargetRef:
    target_group_arn: str
    target_id: str
    port: int


@dataclass
class _TargetState:
    state: str  # initial | healthy | draining
    until: float


@dataclass
class ElbModel:
    """Targets registered by the ECS model, keyed by (id, port) so several tasks can share an instance."""

    clock: VirtualClock
    account: str
    region: str
    healthy_after: float
    targets: dict[str, dict[tuple[str, int], _TargetState]] = field(default_factory=dict)

    def register(self, ref: TargetRef) -> None:
        group = self.targets.setdefault(ref.target_group_arn, {})
        group[(ref.target_id, ref.port)] = _TargetState("initial", self.clock.now() + self.healthy_after)

    def deregister(self, ref: TargetRef) -> float:
        """Start draining the target; return the target group's deregistration delay."""
        delay = self._deregistration_delay(ref.target_group_arn)
        group = self.targets.setdefault(ref.target_group_arn, {})
        if delay <= 0:
            group.pop((ref.target_id, ref.port), None)
        else:
            group[(ref.target_id, ref.port)] = _TargetState("draining", self.clock.now() + delay)
        return delay

    def draining(self, target_group_arn: str) -> list[tuple[str, int]]:
        return [key for key, s in self.targets.get(target_group_arn, {}).items() if s.state == "draining"]

    def step(self) -> None:
        now = self.clock.now()
        for group in self.targets.values():
            for key, target in list(group.items()):
                if target.until > now:
                    continue
                if target.state == "initial":
                    group[key] = _TargetState("healthy", float("inf"))
                elif target.state == "draining":
                    del group[key]

    def next_due(self) -> float | None:
        dues = [t.until for group in self.targets.values() for t in group.values() if t.until != float("inf")]
        return min(dues, default=None)

    def health(self, target_group_arn: str, requested: list[dict[str, Any]]) -> list[Any] | None:
        """Health entries for the model's targets, or None when none of the requested targets are the model's."""
        group = self.targets.get(target_group_arn, {})
        if not requested:
            return [self._status(key, state) for key, state in group.items()]
        entries: list[Any] = []
        for target in requested:
            key = (str(target["Id"]), int(target.get("Port", 0) or 0))
            matches = [k for k in group if k == key or (k[0] == key[0] and not target.get("Port"))]
            for match in matches:
                entries.append(self._status(match, group[match]))
        return entries or None

    @staticmethod
    def _status(key: tuple[str, int], target: _TargetState) -> Any:
        reasons = {
            "initial": ("Elb.RegistrationInProgress", "Target registration is in progress"),
            "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
            "healthy": (None, None),
        }
        reason, description = reasons[target.state]
        return FakeHealthStatus(key[0], str(key[1]), None, target.state, reason, description)

    def _deregistration_delay(self, target_group_arn: str) -> float:
        group = elbv2_backends[self.account][self.region].target_groups.get(target_group_arn)
        if group is None:
            return 0.0
        value = group.attributes.get("deregistration_delay.timeout_seconds", DEFAULT_DEREGISTRATION_DELAY)
        return float(str(value))
