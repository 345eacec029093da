"""Thin Auto Scaling/EC2 layer for the mutations of replace-instances and the reads that reconcile them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_ec2 import EC2Client



class AsgActions:
    """One method per call; the clients' profile, region and retries are the caller's business.

    `mutations` (default: `autoscaling`) serves DetachInstances/AttachInstances and should not retry by
    itself: those calls are not idempotent. The step that sends them retries, reconciling first (machines.steps).
    """

    def __init__(
        self, autoscaling: AutoScalingClient, ec2: EC2Client, *, mutations: AutoScalingClient | None = None
    ) -> None:
        self._autoscaling = autoscaling
        self._mutations = mutations or autoscaling
        self._ec2 = ec2

    def detach(self, asg_name: str, instance_id: str) -> dict[str, Any]:
        """DetachInstances without decrementing desired capacity: the group launches a replacement."""
        response = self._mutations.detach_instances(
            AutoScalingGroupName=asg_name, InstanceIds=[instance_id], ShouldDecrementDesiredCapacity=False
        )
        return {"activities": [a.get("ActivityId") for a in response.get("Activities", [])]}

    def attach(self, asg_name: str, instance_id: str) -> dict[str, Any]:
        """AttachInstances (the group's desired capacity grows by one)."""
        self._mutations.attach_instances(AutoScalingGroupName=asg_name, InstanceIds=[instance_id])
        return {"attached": instance_id}

    def group_membership(self, instance_id: str) -> dict[str, Any] | None:
        """DescribeAutoScalingInstances for one instance: its group and lifecycle state, None if in none."""
        response = self._autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])
        for instance in response.get("AutoScalingInstances", []):
            return cast("dict[str, Any]", instance)
        return None

    def terminate(self, instance_id: str) -> dict[str, Any]:
        """TerminateInstances for one (already detached) instance."""
        response = self._ec2.terminate_instances(InstanceIds=[instance_id])
        states = {i["InstanceId"]: i["CurrentState"]["Name"] for i in response.get("TerminatingInstances", [])}
        return {"state": states.get(instance_id)}

    def instance_state(self, instance_id: str) -> str | None:
        """DescribeInstances: the EC2 state name (running, shutting-down, terminated...), None if unknown."""
        response = self._ec2.describe_instances(InstanceIds=[instance_id])
        for reservation in response.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                if instance.get("InstanceId") == instance_id:
                    return str(instance["State"]["Name"])
        return None
