"""Fault injection delivers exactly the configured faults, and every request is still counted."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from ecsops.sim.faults import FaultSpec
from ecsops.sim.scenario import demo_scenario
from ecsops.sim.server import SimServer

NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})


def _client(sim: SimServer, service: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        region_name="us-east-1",
        endpoint_url=sim.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=NO_RETRY,
    )


def _outcomes(call: Any, n: int) -> list[str]:
    outcomes = []
    for _ in range(n):
        try:
            call()
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
        except (ConnectionClosedError, EndpointConnectionError):
            outcomes.append("reset")
    return outcomes


def _with_faults(*faults: FaultSpec) -> Any:
    scenario = demo_scenario()
    scenario.faults = list(faults)
    return scenario


def test_nth_call_throttled_exactly(sim: SimServer) -> None:
    sim.reset(_with_faults(FaultSpec(service="ecs", operation="DescribeServices", kind="throttling", nth=2, count=2)))
    ecs = _client(sim, "ecs")
    outcomes = _outcomes(lambda: ecs.describe_services(cluster="demo", services=["web"]), 6)
    assert outcomes == ["ok", "ThrottlingException", "ThrottlingException", "ok", "ok", "ok"]
    assert _outcomes(lambda: ecs.list_tasks(cluster="demo"), 2) == ["ok", "ok"], "other operations untouched"
    assert sim.counts() == {"ecs:DescribeServices": 6, "ecs:ListTasks": 2}
    assert [(f.operation, f.kind) for f in sim.faults.delivered] == [("DescribeServices", "throttling")] * 2


def test_each_kind_looks_like_aws(sim: SimServer) -> None:
    sim.reset(
        _with_faults(
            FaultSpec(service="ecs", operation="ListServices", kind="http500"),
            FaultSpec(service="autoscaling", operation="DescribeAutoScalingGroups", kind="throttling"),
            FaultSpec(service="ec2", operation="DescribeInstances", kind="throttling"),
            FaultSpec(service="elbv2", operation="DescribeTargetGroups", kind="http503"),
            FaultSpec(service="ecs", operation="ListClusters", kind="reset"),
        )
    )
    assert _outcomes(lambda: _client(sim, "ecs").list_services(cluster="demo"), 1) == ["ServerException"]
    assert _outcomes(lambda: _client(sim, "autoscaling").describe_auto_scaling_groups(), 1) == ["Throttling"]
    assert _outcomes(lambda: _client(sim, "ec2").describe_instances(), 1) == ["RequestLimitExceeded"]
    assert _outcomes(lambda: _client(sim, "elbv2").describe_target_groups(), 1) == ["ServiceUnavailable"]
    assert _outcomes(lambda: _client(sim, "ecs").list_clusters(), 1) == ["reset"]
    assert len(sim.faults.delivered) == 5


def test_rate_is_seeded_and_reproducible(sim: SimServer) -> None:
    rule = FaultSpec(service="ecs", operation="ListClusters", kind="throttling", rate=0.5)
    patterns = []
    for _ in range(2):
        sim.reset(_with_faults(rule))
        ecs = _client(sim, "ecs")
        patterns.append(_outcomes(ecs.list_clusters, 40))
    assert patterns[0] == patterns[1]
    throttled = patterns[0].count("ThrottlingException")
    assert 10 <= throttled <= 30
    assert len(sim.faults.delivered) == throttled


def test_rate_with_count_caps_deliveries(sim: SimServer) -> None:
    sim.reset(_with_faults(FaultSpec(service="ecs", operation="*", kind="throttling", rate=1.0, count=3)))
    ecs = _client(sim, "ecs")
    assert _outcomes(ecs.list_clusters, 5) == ["ThrottlingException"] * 3 + ["ok"] * 2


def test_botocore_retries_through_transient_faults(sim: SimServer) -> None:
    sim.reset(_with_faults(FaultSpec(service="ecs", operation="DescribeServices", kind="http503", nth=1, count=2)))
    ecs = boto3.client(
        "ecs",
        region_name="us-east-1",
        endpoint_url=sim.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "max_attempts": 3}),
    )
    response = ecs.describe_services(cluster="demo", services=["web"])
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert sim.counts() == {"ecs:DescribeServices": 3}


def test_faults_can_be_added_at_runtime_over_http(sim: SimServer) -> None:
    import json
    import urllib.request

    body = json.dumps({"service": "ecs", "operation": "ListClusters", "kind": "throttling", "nth": 1}).encode()
    request = urllib.request.Request(sim.url + "/_ecsops/faults", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read()) == {"faults": 1}
    ecs = _client(sim, "ecs")
    assert _outcomes(ecs.list_clusters, 2) == ["ThrottlingException", "ok"]


def test_fault_spec_rejects_rate_and_nth_together() -> None:
    with pytest.raises(ValueError):
        FaultSpec(rate=0.5, nth=1)
