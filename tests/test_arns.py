"""Names, ARNs and target keys (pure functions, no AWS): what the lock key is made of."""

from __future__ import annotations

import pytest

from ecsops.aws.arns import (
    InvalidName,
    asg_identity,
    asg_reference,
    ecs_cluster_reference,
    ecs_service_identity,
    ecs_service_reference,
    target_matches,
)

ACCOUNT = "123456789012"


def test_new_and_old_service_arn_formats_give_one_identity() -> None:
    new = {"serviceArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/demo/web", "serviceName": "web",
           "clusterArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/demo"}
    old = {**new, "serviceArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/web"}  # no cluster: from clusterArn
    assert ecs_service_identity(new) == ecs_service_identity(old)
    assert ecs_service_identity(old).key == f"ecs:{ACCOUNT}:eu-west-1:demo/web"


def test_an_answer_without_arns_is_refused() -> None:
    with pytest.raises(ValueError, match="without a service ARN"):
        ecs_service_identity({"serviceName": "web"})
    with pytest.raises(ValueError, match="without a cluster ARN"):
        ecs_service_identity({"serviceArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/web"})


def test_group_identity_from_its_arn() -> None:
    group = {"AutoScalingGroupName": "demo-asg", "AutoScalingGroupARN": (
        f"arn:aws:autoscaling:us-east-1:{ACCOUNT}:autoScalingGroup:39db8b67-7052-4eb0-86f6-e078abfb540f:"
        "autoScalingGroupName/demo-asg")}
    assert asg_identity(group).key == f"asg:{ACCOUNT}:us-east-1:demo-asg"
    assert asg_reference(group["AutoScalingGroupARN"]).name == "demo-asg"
    assert asg_reference(group["AutoScalingGroupARN"]).region == "us-east-1"


def test_references_pin_what_an_arn_says() -> None:
    service = ecs_service_reference(f"arn:aws-cn:ecs:cn-north-1:{ACCOUNT}:service/demo/web")
    assert (service.name, service.cluster, service.region, service.account) == ("web", "demo", "cn-north-1", ACCOUNT)
    assert ecs_service_reference("web").account is None
    assert ecs_cluster_reference(f"arn:aws:ecs:us-gov-west-1:{ACCOUNT}:cluster/prod_1").name == "prod_1"
    assert service.conflicts(ACCOUNT, "cn-north-1", "demo") == []
    assert service.conflicts(ACCOUNT, "us-east-1", "other") == ["region cn-north-1, not us-east-1",
                                                                 "cluster demo, not other"]


@pytest.mark.parametrize("value", ["api2/../api3", "", "a b", "x" * 256, "web\n", "arn:aws:ecs:us-east-1:1:service/w",
                                   f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/a/b/c",
                                   f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/demo/abc"])
def test_invalid_service_spellings(value: str) -> None:
    with pytest.raises(InvalidName, match="--service"):
        ecs_service_reference(value)


@pytest.mark.parametrize("value", ["a:b", "", "with space", "x" * 256, "tab\there"])
def test_invalid_group_names(value: str) -> None:
    with pytest.raises(InvalidName, match="--asg"):
        asg_reference(value)


def test_a_group_name_may_hold_punctuation_but_no_colon() -> None:
    assert asg_reference("eks-nodes/blue_#1.(x)").name == "eks-nodes/blue_#1.(x)"


def test_typed_targets_match_keys_in_any_account_and_region() -> None:
    key = f"ecs:{ACCOUNT}:us-east-1:demo/web"
    for typed in (key, "demo/web", "ecs:demo/web"):
        assert target_matches(key, typed), typed
    for typed in ("web", "asg:demo/web", "demo/we", f"ecs:{ACCOUNT}:us-west-2:demo/web"):
        assert not target_matches(key, typed), typed
    assert target_matches("ecs:demo/web", "demo/web")  # a key recorded before identities were resolved
    assert target_matches(f"asg:{ACCOUNT}:us-east-1:demo-asg", "asg:demo-asg")
    assert target_matches("fake:a", "fake:a")
