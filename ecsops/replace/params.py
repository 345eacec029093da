"""The recorded inputs of a replace-instances run, as stored in the run's params."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from ecsops.aws.arns import AsgIdentity, asg_reference, ecs_cluster_reference
from machines.durations import format_duration


@dataclass(frozen=True)
class ReplaceParams:
    """As parsed from the flags, asg and cluster are what was typed (a name or an ARN); once the group and
    cluster were read they are the canonical names, and account and region those of the group's ARN."""

    asg: str
    cluster: str
    batch_size: int
    timeout: float
    poll_interval: float | None  # None: adaptive, 2s growing to 15s while nothing changes
    profile: str | None = None
    region: str | None = None
    account: str | None = None

    @classmethod
    def from_run(cls, params: dict[str, Any]) -> ReplaceParams:
        interval = params.get("poll_interval")
        return cls(
            asg=str(params["asg"]),
            cluster=str(params["cluster"]),
            batch_size=int(params.get("batch_size", 1)),
            timeout=float(params.get("timeout", 900)),
            poll_interval=None if interval is None else float(interval),
            profile=params.get("profile"),
            region=params.get("region"),
            account=params.get("account"),
        )

    @property
    def target(self) -> str:
        """The lock key: one running run per group. Params recorded before the group's identity was
        resolved keep the key they were recorded under."""
        if self.account is None or self.region is None:
            return f"asg:{self.asg}"
        return AsgIdentity(self.account, self.region, self.asg).key

    def resolved(self, identity: AsgIdentity, cluster: str) -> ReplaceParams:
        return replace(self, asg=identity.name, cluster=cluster, region=identity.region, account=identity.account)

    def recorded(self) -> dict[str, Any]:
        return asdict(self)


def differences(typed: ReplaceParams, recorded: dict[str, Any]) -> list[str]:
    """How a retry's inputs (as typed) differ from a run's recorded params, one line each; another spelling
    of the same group or cluster (an ARN) is no difference, nor a region left to the environment."""
    before = ReplaceParams.from_run(recorded)
    found: list[str] = []

    def compare(label: str, was: Any, now: Any) -> None:
        if was != now:
            found.append(f"{label}: recorded {'(not given)' if was is None else was}, "
                         f"now {'(not given)' if now is None else now}")

    asg, cluster = asg_reference(typed.asg), ecs_cluster_reference(typed.cluster)
    compare("asg", before.asg, asg.name)
    compare("cluster", before.cluster, cluster.name)
    if before.account is not None and before.region is not None:
        for flag, reference in (("--asg", asg), ("--cluster", cluster)):
            found += [f"{flag} names {conflict} as recorded"
                      for conflict in reference.conflicts(before.account, before.region)]
    if typed.region is not None:
        compare("region", before.region, typed.region)
    compare("profile", before.profile, typed.profile)
    compare("batch size", before.batch_size, typed.batch_size)
    compare("timeout", format_duration(before.timeout), format_duration(typed.timeout))
    compare("poll interval", _interval(before.poll_interval), _interval(typed.poll_interval))
    return found


def _interval(seconds: float | None) -> str:
    return "adaptive" if seconds is None else format_duration(seconds)
