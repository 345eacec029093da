"""When each ECS deployment's rolloutState changed, in simulator time: what "seconds from ECS's completion to a
client's exit" is measured against (GET /_ecsops/rollouts)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RolloutChange:
    cluster: str
    service: str
    deployment_id: str
    task_definition: str
    rollout_state: str
    at: float


class RolloutLog:
    """Fed by the model at every instant it runs; the model walks time event by event, so `at` is exact."""

    def __init__(self) -> None:
        self._last: dict[str, str] = {}
        self.changes: list[RolloutChange] = []

    def observe(self, services: dict[str, Any], now: float) -> None:
        """`services`: the ECS model's service states (each with cluster, name and deployments)."""
        for state in services.values():
            for deployment in state.deployments:
                if getattr(deployment, "strategy", "ROLLING") != "ROLLING":
                    continue  # ECS shows no rolloutState on native strategies; see GET /_ecsops/service-deployments
                if self._last.get(deployment.id) == deployment.rollout_state:
                    continue
                self._last[deployment.id] = deployment.rollout_state
                self.changes.append(
                    RolloutChange(state.cluster, state.name, deployment.id, deployment.task_definition,
                                  deployment.rollout_state, now)
                )

    def as_json(self) -> list[dict[str, Any]]:
        return [asdict(change) for change in self.changes]
