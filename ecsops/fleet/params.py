"""The recorded inputs of a deploy-fleet run: each service's own deploy params, and how the fleet rolls out."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ecsops.deploy.params import DeployParams

OnFailure = Literal["rollback-failed", "rollback-all", "stop"]
ON_FAILURE_CHOICES: tuple[str, ...] = ("rollback-failed", "rollback-all", "stop")


class FleetService(BaseModel):
    """One `[[service]]` table of the fleet file, parsed by deploy's own flag parser."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int = Field(ge=0, description="position in the file, from 0")
    line: int = Field(ge=1, description="line of its [[service]] header in the file")
    params: DeployParams

    @property
    def name(self) -> str:
        """CLUSTER/SERVICE as resolved (or as typed, before preflight): the item id of its service."""
        return f"{self.params.cluster}/{self.params.service}"

    @property
    def target(self) -> str:
        return self.params.target


class FleetParams(BaseModel):
    """A fleet run's inputs. Services are in file order; locks are taken in sorted order of their targets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    services: tuple[FleetService, ...]
    max_parallel: int | None = Field(default=None, ge=1, description="None: every service at once")
    on_failure: OnFailure = "rollback-failed"
    poll_interval: float | None = Field(default=None, ge=0, description="None: adaptive")
    profile: str | None = None
    region: str | None = None

    @property
    def targets(self) -> tuple[str, ...]:
        """The lock keys of the services, sorted: every fleet takes them in this order."""
        return tuple(sorted(service.target for service in self.services))

    def service(self, item_id: str) -> FleetService:
        for service in self.services:
            if service.name == item_id:
                return service
        raise KeyError(f"no service {item_id} in this fleet")

    def without_snapshots(self) -> FleetParams:
        """These params without preflight's reads: what the run records (each service's item keeps its own)."""
        services = tuple(s.model_copy(update={"params": s.params.model_copy(update={"snapshot": None})})
                         for s in self.services)
        return self.model_copy(update={"services": services})

    def recorded(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
