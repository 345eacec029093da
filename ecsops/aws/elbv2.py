"""Thin ELBv2 gateway: the target health read that `--wait-until draining-started` polls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TargetHealth:
    target_id: str
    port: int
    state: str  # initial | healthy | unhealthy | unused | draining | unavailable

    @property
    def key(self) -> str:
        return f"{self.target_id}:{self.port}"


class Elbv2Gateway:
    """The ELBv2 calls a deploy makes. The boto3 client is made on first use."""

    def __init__(self, client_factory: Callable[[], Any]) -> None:
        self._client_factory = client_factory
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def describe_target_health(self, target_group_arn: str) -> list[TargetHealth]:
        response = self.client.describe_target_health(TargetGroupArn=target_group_arn)
        return [
            TargetHealth(
                target_id=str(entry["Target"]["Id"]),
                port=int(entry["Target"].get("Port") or 0),
                state=str(entry.get("TargetHealth", {}).get("State", "unavailable")),
            )
            for entry in response.get("TargetHealthDescriptions", [])
        ]
