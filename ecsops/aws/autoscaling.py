"""Read an Auto Scaling group and its launch templates from AWS: one method per API call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from ecsops.aws.batching import batches

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_ec2 import EC2Client

# DescribeAutoScalingGroups takes at most 100 names per call; DescribeLaunchTemplates documents no cap on
# ids, so the same conservative size keeps request URLs short.
GROUP_NAMES_PER_CALL = 100
TEMPLATES_PER_CALL = 100

# Real EC2 fails the whole DescribeLaunchTemplates call when one id or name does not exist.
_TEMPLATE_NOT_FOUND_CODES = frozenset(
    {
        "InvalidLaunchTemplateId.NotFound",
        "InvalidLaunchTemplateId.Malformed",
        "InvalidLaunchTemplateName.NotFoundException",
    }
)



class AutoScalingGroupNotFound(LookupError):
    """DescribeAutoScalingGroups knows no group of that name."""

    fmt = "Auto Scaling group {asg_name!r} not found (DescribeAutoScalingGroups returned no such group)"

    def __init__(self, asg_name: str) -> None:
        self.asg_name = asg_name
        super().__init__(self.fmt.format(asg_name=asg_name))


def _is_template_not_found(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _TEMPLATE_NOT_FOUND_CODES


class AutoScalingReader:
    """Thin read-only layer over the Auto Scaling and EC2 clients the caller built (profile, region,
    endpoint and retry configuration are the caller's business)."""

    def __init__(self, autoscaling: AutoScalingClient, ec2: EC2Client) -> None:
        self._autoscaling = autoscaling
        self._ec2 = ec2

    @classmethod
    def from_session(
        cls, session: boto3.Session, *, endpoint_url: str | None = None, config: Config | None = None
    ) -> AutoScalingReader:
        return cls(
            session.client("autoscaling", endpoint_url=endpoint_url, config=config),
            session.client("ec2", endpoint_url=endpoint_url, config=config),
        )

    def describe_groups(self, asg_names: Sequence[str]) -> list[dict[str, Any]]:
        """DescribeAutoScalingGroups for these names, 100 per call, every page; unknown names are absent."""
        groups: list[dict[str, Any]] = []
        paginator = self._autoscaling.get_paginator("describe_auto_scaling_groups")
        for names in batches(asg_names, GROUP_NAMES_PER_CALL):
            for page in paginator.paginate(AutoScalingGroupNames=names):
                groups.extend(cast("dict[str, Any]", group) for group in page["AutoScalingGroups"])
        return groups

    def describe_group(self, asg_name: str) -> dict[str, Any]:
        """One ``AutoScalingGroups[i]`` dict; raises ``AutoScalingGroupNotFound`` naming the group."""
        for group in self.describe_groups([asg_name]):
            if group["AutoScalingGroupName"] == asg_name:
                return group
        raise AutoScalingGroupNotFound(asg_name)

    def describe_launch_templates_by_id(self, template_ids: Sequence[str]) -> list[dict[str, Any]]:
        """DescribeLaunchTemplates by id, batched; ids that do not exist are left out, not an error."""
        templates: list[dict[str, Any]] = []
        for ids in batches(template_ids, TEMPLATES_PER_CALL):
            try:
                templates.extend(self._describe_launch_templates_call(ids))
            except ClientError as error:
                if not _is_template_not_found(error):
                    raise
                # One missing id sank the batch: ask one by one so the others are still found.
                for template_id in ids:
                    try:
                        templates.extend(self._describe_launch_templates_call([template_id]))
                    except ClientError as single_error:
                        if not _is_template_not_found(single_error):
                            raise
        return templates

    def _describe_launch_templates_call(self, template_ids: list[str]) -> list[dict[str, Any]]:
        response = self._ec2.describe_launch_templates(LaunchTemplateIds=template_ids)
        return [cast("dict[str, Any]", template) for template in response.get("LaunchTemplates", [])]

    def describe_launch_templates_by_name(self, template_names: Sequence[str]) -> list[dict[str, Any]]:
        """DescribeLaunchTemplates by a name filter, batched, every page; unknown names are left out."""
        templates: list[dict[str, Any]] = []
        paginator = self._ec2.get_paginator("describe_launch_templates")
        for names in batches(template_names, TEMPLATES_PER_CALL):
            # A filter (unlike LaunchTemplateNames) does not fail the call for a name that does not exist.
            for page in paginator.paginate(Filters=[{"Name": "launch-template-name", "Values": names}]):
                templates.extend(
                    cast("dict[str, Any]", template) for template in page.get("LaunchTemplates", [])
                )
        return templates
