"""AWS names and ARNs: which spellings of an ECS cluster, ECS service or Auto Scaling group are valid, what an
ARN pins down, and the one identity (account, region, name) AWS's own answer gives a service or group."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# ECS cluster and service names: up to 255 letters, digits, hyphens and underscores (CreateCluster, CreateService).
ECS_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
# Auto Scaling group names: 1 to 255 ASCII characters 33 to 126, no colon (CreateAutoScalingGroup).
ASG_NAME = re.compile(r"[!-9;-~]{1,255}")
_ARN = re.compile(
    r"arn:(?P<partition>aws(?:-[a-z]+)*):(?P<service>[a-z0-9-]+):(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)"
    r":(?P<account>\d{12}):(?P<resource>.+)"
)
_ASG_RESOURCE = re.compile(r"autoScalingGroup:[0-9a-fA-F-]{36}:autoScalingGroupName/(?P<name>.+)")
_SHOWN = 80  # characters of a bad value quoted in a message (a pasted file must not flood the terminal)


class InvalidName(ValueError):
    """A flag value that is neither a valid name nor an ARN of the right kind; the message says which rule."""


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str


def parse_arn(text: str) -> Arn | None:
    match = _ARN.fullmatch(text)
    if match is None:
        return None
    return Arn(**match.groupdict())


@dataclass(frozen=True)
class Reference:
    """What one flag value names: always a name; an ARN also pins the account, region (and a service's cluster)."""

    name: str
    account: str | None = None
    region: str | None = None
    cluster: str | None = None

    def conflicts(self, account: str, region: str, cluster: str | None = None) -> list[str]:
        """What this reference pins that differs from an identity, e.g. `region us-west-2, not us-east-1`."""
        pinned = (("account", self.account, account), ("region", self.region, region),
                  ("cluster", self.cluster, cluster))
        return [f"{what} {mine}, not {theirs}" for what, mine, theirs in pinned
                if mine is not None and theirs is not None and mine != theirs]


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def ecs_cluster_reference(value: str, flag: str = "--cluster") -> Reference:
    """A cluster name or cluster ARN (`arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`); raises InvalidName."""
    arn = parse_arn(value)
    if arn is not None and arn.service == "ecs" and arn.resource.startswith("cluster/"):
        name = arn.resource.removeprefix("cluster/")
        if ECS_NAME.fullmatch(name):
            return Reference(name, arn.account, arn.region)
    elif ECS_NAME.fullmatch(value):
        return Reference(value)
    raise InvalidName(
        f"{flag} {_shown(value)}: not an ECS cluster name (1 to 255 letters, digits, hyphens and underscores) "
        "or cluster ARN (arn:aws:ecs:REGION:ACCOUNT:cluster/NAME)"
    )


def ecs_service_reference(value: str, flag: str = "--service") -> Reference:
    """A service name or service ARN, new (`service/CLUSTER/NAME`) or old (`service/NAME`) format."""
    arn = parse_arn(value)
    if arn is not None and arn.service == "ecs" and arn.resource.startswith("service/"):
        parts = arn.resource.removeprefix("service/").split("/")
        if len(parts) in (1, 2) and all(ECS_NAME.fullmatch(part) for part in parts):
            cluster = parts[0] if len(parts) == 2 else None
            return Reference(parts[-1], arn.account, arn.region, cluster)
    elif ECS_NAME.fullmatch(value):
        return Reference(value)
    raise InvalidName(
        f"{flag} {_shown(value)}: not an ECS service name (1 to 255 letters, digits, hyphens and underscores) "
        "or service ARN (arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME)"
    )


def asg_reference(value: str, flag: str = "--asg") -> Reference:
    """An Auto Scaling group name or group ARN (`...:autoScalingGroup:UUID:autoScalingGroupName/NAME`)."""
    arn = parse_arn(value)
    if arn is not None and arn.service == "autoscaling":
        match = _ASG_RESOURCE.fullmatch(arn.resource)
        if match and ASG_NAME.fullmatch(match.group("name")):
            return Reference(match.group("name"), arn.account, arn.region)
    elif ASG_NAME.fullmatch(value):
        return Reference(value)
    raise InvalidName(
        f"{flag} {_shown(value)}: not an Auto Scaling group name (1 to 255 printable ASCII characters, no spaces, "
        "no colon) or group ARN"
    )


@dataclass(frozen=True)
class EcsServiceIdentity:
    """One ECS service wherever it lives, however it was spelled: the target key of its runs."""

    account: str
    region: str
    cluster: str
    service: str

    @property
    def key(self) -> str:
        return f"ecs:{self.account}:{self.region}:{self.cluster}/{self.service}"


@dataclass(frozen=True)
class AsgIdentity:
    account: str
    region: str
    name: str

    @property
    def key(self) -> str:
        return f"asg:{self.account}:{self.region}:{self.name}"


def ecs_service_identity(described: Mapping[str, Any]) -> EcsServiceIdentity:
    """From one service of a DescribeServices answer. An old-format serviceArn (`service/NAME`) has no
    cluster: the answer's clusterArn gives it. Raises ValueError for an answer without usable ARNs."""
    arn = parse_arn(str(described.get("serviceArn", "")))
    if arn is None or not arn.resource.startswith("service/"):
        raise ValueError(f"DescribeServices answered without a service ARN: {described.get('serviceArn')!r}")
    parts = arn.resource.removeprefix("service/").split("/")
    if len(parts) == 2:
        cluster, service = parts
    else:
        cluster_arn = parse_arn(str(described.get("clusterArn", "")))
        if cluster_arn is None or not cluster_arn.resource.startswith("cluster/"):
            raise ValueError(f"DescribeServices answered without a cluster ARN: {described.get('clusterArn')!r}")
        cluster, service = cluster_arn.resource.removeprefix("cluster/"), parts[-1]
    return EcsServiceIdentity(arn.account, arn.region, cluster, str(described.get("serviceName") or service))


def asg_identity(group: Mapping[str, Any]) -> AsgIdentity:
    """From one group of a DescribeAutoScalingGroups answer (its AutoScalingGroupARN)."""
    arn = parse_arn(str(group.get("AutoScalingGroupARN", "")))
    if arn is None:
        raise ValueError(
            f"DescribeAutoScalingGroups answered without a group ARN: {group.get('AutoScalingGroupARN')!r}"
        )
    return AsgIdentity(arn.account, arn.region, str(group["AutoScalingGroupName"]))


def target_matches(key: str, wanted: str) -> bool:
    """Whether a run's target key is the one a person typed: the key itself, `KIND:NAME` or just `NAME`
    (`ecs:demo/web`, `demo/web`, `demo-asg`), whatever the key's account and region."""
    if key == wanted:
        return True
    kind, _, rest = key.partition(":")
    name = rest.rsplit(":", 1)[-1]  # names in keys hold no colon: ECS and Auto Scaling names cannot
    wanted_kind, separator, wanted_name = wanted.partition(":")
    if not separator:
        return wanted == name
    return wanted_kind == kind and ":" not in wanted_name and wanted_name == name


def is_full_key(text: str) -> bool:
    """`KIND:ACCOUNT:REGION:NAME`: matched exactly, so a store can filter on it."""
    return text.count(":") == 3
