"""What a deploy-fleet run records: per service (an item's facts) deploy's facts and the fleet's; per run, little."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ecsops.deploy.facts import DeployFacts
from ecsops.deploy.snapshot import ServiceSnapshot


class ServiceFacts(DeployFacts):
    """One service of the fleet: what its deploy learned (DeployFacts), and what the fleet adds to it."""

    model_config = ConfigDict(extra="forbid")

    index: int = 0  # its position in the file
    # Preflight's reads of the service (the run's record does not carry them): its snapshot while the service
    # still looks as they saw it when it starts.
    preflight: ServiceSnapshot | None = None
    # Its deadlines (`deploy`, `rollback`), on the run's clock: fixed when first asked, kept across resumes.
    timers: dict[str, float] = Field(default_factory=dict)
    # StopServiceDeployment(ROLLBACK) was sent (BLUE_GREEN, LINEAR, CANARY): its rollback is now followed.
    stop_sent: bool = False
    # rollback-all took this service back because another failed: it did not fail itself.
    reverted_with_fleet: bool = False
    # How the service ended, or what went wrong (the item's counterpart of a run's reason).
    reason: str | None = None
    # When it started and ended, UTC ISO (run documents show timings).
    started_at: str | None = None
    ended_at: str | None = None


class FleetFacts(BaseModel):
    """The fleet run's own facts: which services failed first (the policy's trigger), and poll rounds made."""

    model_config = ConfigDict(extra="forbid")

    first_failure: str | None = None
    poll_rounds: int = 0
