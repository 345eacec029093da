"""The simulator endpoint: any boto3 client works with only AWS_ENDPOINT_URL; requests are counted."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
import pytest

from ecsops.sim.server import SimServer


def _http(sim: SimServer, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(sim.url + path, data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_binds_loopback_only(sim: SimServer) -> None:
    assert sim.url.startswith("http://127.0.0.1:")
    with pytest.raises(ValueError):
        SimServer(host="0.0.0.0")


def test_plain_boto3_clients_work_with_only_env(aws_env: SimServer) -> None:
    ecs = boto3.client("ecs")
    autoscaling = boto3.client("autoscaling")
    elbv2 = boto3.client("elbv2")
    ec2 = boto3.client("ec2")
    assert ecs.list_clusters()["clusterArns"] == [aws_env.seeded.clusters["demo"]]
    assert [g["AutoScalingGroupName"] for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]] == [
        "demo-asg"
    ]
    assert [g["TargetGroupName"] for g in elbv2.describe_target_groups()["TargetGroups"]] == ["web-tg"]
    assert len(ec2.describe_instances()["Reservations"]) >= 1
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="locks",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert dynamodb.list_tables()["TableNames"] == ["locks"]


def test_counts_are_exact_per_service_operation(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    autoscaling = sim.client("autoscaling")
    elbv2 = sim.client("elbv2")
    assert sim.counts() == {}
    for _ in range(3):
        ecs.describe_services(cluster="demo", services=["web"])
    ecs.list_tasks(cluster="demo", serviceName="web")
    autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["demo-asg"])
    elbv2.describe_target_health(TargetGroupArn=sim.seeded.target_groups["web-tg"])
    ecs.update_service(cluster="demo", service="web", desiredCount=3)
    assert sim.counts() == {
        "ecs:DescribeServices": 3,
        "ecs:ListTasks": 1,
        "autoscaling:DescribeAutoScalingGroups": 1,
        "elbv2:DescribeTargetHealth": 1,
        "ecs:UpdateService": 1,
    }
    assert sim.mutating_calls() == {"ecs:UpdateService": 1}
    assert _http(sim, "GET", "/_ecsops/requests") == sim.counts()


def test_reset_gives_a_fresh_account(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    ecs.create_cluster(clusterName="extra")
    sim.reset("demo")
    assert sim.counts() == {}
    assert ecs.list_clusters()["clusterArns"] == [sim.seeded.clusters["demo"]]
    sim.reset(None)
    assert ecs.list_clusters()["clusterArns"] == []


def test_clock_endpoints_and_ticks(sim: SimServer) -> None:
    start = _http(sim, "GET", "/_ecsops/clock")["now"]
    assert start == pytest.approx(sim.now())
    after = _http(sim, "POST", "/_ecsops/clock/advance", {"seconds": 120})["now"]
    assert after == pytest.approx(start + 120)
    sim.client("ecs").describe_services(cluster="demo", services=["web"])
    assert sim.now() == pytest.approx(after + sim.scenario.tick_seconds)
    sim.client("ec2").describe_instances()
    assert sim.now() == pytest.approx(after + sim.scenario.tick_seconds), "EC2 reads do not tick"


def test_reset_over_http_with_a_scenario(sim: SimServer) -> None:
    scenario = {"clusters": [{"name": "other"}]}
    result = _http(sim, "POST", "/_ecsops/reset", scenario)
    assert set(result["clusters"]) == {"other"}
    assert sim.client("ecs").list_clusters()["clusterArns"] == [sim.seeded.clusters["other"]]
    result = _http(sim, "POST", "/_ecsops/reset", {"scenario": "demo"})
    assert set(result["services"]) == {"web"}


def test_unknown_control_route_is_404(sim: SimServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as error:
        _http(sim, "GET", "/_ecsops/nope")
    assert error.value.code == 404
