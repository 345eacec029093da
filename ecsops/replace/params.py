"""The recorded inputs of a replace-instances run, as stored in the run's params."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
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


# Fields a retry is not compared on: preflight fills them in (the account of the group resolved).
NOT_COMPARED = frozenset({"account"})


def differences(typed: ReplaceParams, recorded: dict[str, Any]) -> list[str]:
    """How a retry's inputs (as typed) differ from a run's recorded params, one line each. Every field is
    compared, as its own comparison says or else as it is, but for those NOT_COMPARED; another spelling of the
    same group or cluster (an ARN) is no difference, nor a region left to the environment."""
    before = ReplaceParams.from_run(recorded)
    found: list[str] = []
    for field in fields(ReplaceParams):
        if field.name not in NOT_COMPARED:
            found += _COMPARISONS.get(field.name, _as_is)(field.name, before, typed)
    return found


def _line(name: str, was: Any, now: Any) -> list[str]:
    if was == now:
        return []
    return [f"{name.replace('_', ' ')}: recorded {'(not given)' if was is None else was}, "
            f"now {'(not given)' if now is None else now}"]


def _as_is(name: str, before: ReplaceParams, typed: ReplaceParams) -> list[str]:
    return _line(name, getattr(before, name), getattr(typed, name))


def _named(name: str, before: ReplaceParams, typed: ReplaceParams) -> list[str]:
    """The group or the cluster, typed as a name or an ARN; an ARN must not name another account or region."""
    reference = (asg_reference if name == "asg" else ecs_cluster_reference)(getattr(typed, name))
    found = _line(name, getattr(before, name), reference.name)
    if before.account is not None and before.region is not None:
        found += [f"--{name} names {conflict} as recorded"
                  for conflict in reference.conflicts(before.account, before.region)]
    return found


def _region(name: str, before: ReplaceParams, typed: ReplaceParams) -> list[str]:
    return [] if typed.region is None else _line(name, before.region, typed.region)


def _timeout(name: str, before: ReplaceParams, typed: ReplaceParams) -> list[str]:
    return _line(name, format_duration(before.timeout), format_duration(typed.timeout))


def _poll_interval(name: str, before: ReplaceParams, typed: ReplaceParams) -> list[str]:
    return _line(name, _interval(before.poll_interval), _interval(typed.poll_interval))


_COMPARISONS: dict[str, Callable[[str, ReplaceParams, ReplaceParams], list[str]]] = {
    "asg": _named,
    "cluster": _named,
    "region": _region,
    "timeout": _timeout,
    "poll_interval": _poll_interval,
}


def _interval(seconds: float | None) -> str:
    return "adaptive" if seconds is None else format_duration(seconds)
