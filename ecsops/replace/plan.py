"""Which instances replace-instances would replace, and why: read calls only (used by the run and --dry-run)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ecsops.aws.autoscaling import AutoScalingReader
from ecsops.aws.ecs import EcsGateway
from ecsops.replace.launch_settings import (
    InstanceVerdict,
    LaunchSpec,
    LaunchTemplateCatalog,
    classify_instances,
    instances_to_replace,
    template_references,
)


def template_catalog(reader: AutoScalingReader, template_refs: Iterable[LaunchSpec]) -> LaunchTemplateCatalog:
    """A resolver knowing every referenced template that exists (by id first, then remaining names)."""
    refs = [ref for ref in template_refs if ref.is_launch_template]
    ids = [ref.launch_template_id for ref in refs if ref.launch_template_id]
    templates = reader.describe_launch_templates_by_id(ids) if ids else []
    known_names = {template["LaunchTemplateName"] for template in templates}
    names = [
        ref.launch_template_name
        for ref in refs
        if not ref.launch_template_id and ref.launch_template_name and ref.launch_template_name not in known_names
    ]
    if names:
        templates.extend(reader.describe_launch_templates_by_name(names))
    return LaunchTemplateCatalog(templates)


def classify_group(reader: AutoScalingReader, asg_name: str) -> list[InstanceVerdict]:
    """A verdict for every instance of the group (skipped ones included, for dry runs and reports)."""
    asg = reader.describe_group(asg_name)
    return classify_instances(asg, template_catalog(reader, template_references(asg)))


def out_of_date_instances(reader: AutoScalingReader, asg_name: str) -> list[InstanceVerdict]:
    """The group's InService instances whose launch settings differ from the group's."""
    return instances_to_replace(classify_group(reader, asg_name))


@dataclass(frozen=True)
class PlannedInstance:
    instance_id: str
    reason: str
    container_instance_arn: str | None
    container_status: str | None

    def document(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "reason": self.reason,
            "container_instance_arn": self.container_instance_arn,
            "container_status": self.container_status,
        }


@dataclass(frozen=True)
class ReplacementPlan:
    asg_name: str
    cluster: str
    verdicts: tuple[InstanceVerdict, ...]
    to_replace: tuple[PlannedInstance, ...]
    # Out of date and InService, but not registered (or not ACTIVE) in the cluster: reported, not touched.
    not_in_cluster: tuple[PlannedInstance, ...]
    # The group as DescribeAutoScalingGroups answered it (its ARN carries account and region).
    group: dict[str, Any] | None = None

    @property
    def skipped(self) -> tuple[InstanceVerdict, ...]:
        return tuple(v for v in self.verdicts if v.out_of_date and v.skip_reason is not None)

    def summary(self) -> str:
        if not self.to_replace:
            base = f"no instance of {self.asg_name} registered in cluster {self.cluster} is out of date"
        else:
            base = f"{len(self.to_replace)} out-of-date instance(s) of {self.asg_name} to replace"
        notes = []
        if self.not_in_cluster:
            ids = ", ".join(p.instance_id for p in self.not_in_cluster)
            notes.append(f"out of date but not ACTIVE in cluster {self.cluster}, left alone: {ids}")
        if self.skipped:
            ids = ", ".join(f"{v.instance_id} ({v.lifecycle_state})" for v in self.skipped)
            notes.append(f"out of date but not InService, left alone: {ids}")
        return "; ".join([base, *notes])


def plan_replacement(
    reader: AutoScalingReader, ecs: EcsGateway, asg_name: str, cluster: str
) -> ReplacementPlan:
    """Raises AutoScalingGroupNotFound, ClusterNotFound or LaunchSettingsError (each names what is wrong).

    `cluster` may be a name or an ARN; the plan names the cluster as DescribeClusters answered it."""
    cluster = str(ecs.describe_cluster(cluster).get("clusterName") or cluster)
    group = reader.describe_group(asg_name)
    verdicts = tuple(classify_instances(group, template_catalog(reader, template_references(group))))
    candidates = [v for v in verdicts if v.needs_replacement]
    registered: dict[str, dict[str, Any]] = {}
    if candidates:
        arns = ecs.list_container_instance_arns(cluster)
        for described in ecs.describe_container_instances(cluster, arns):
            registered[str(described.get("ec2InstanceId"))] = described
    to_replace, not_in_cluster = [], []
    for verdict in candidates:
        found = registered.get(verdict.instance_id)
        planned = PlannedInstance(
            verdict.instance_id,
            verdict.reason,
            found["containerInstanceArn"] if found else None,
            found.get("status") if found else None,
        )
        if found is not None and found.get("status") == "ACTIVE":
            to_replace.append(planned)
        else:
            not_in_cluster.append(planned)
    return ReplacementPlan(asg_name, cluster, verdicts, tuple(to_replace), tuple(not_in_cluster), group)
