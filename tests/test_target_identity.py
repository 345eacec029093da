"""The lock key is the target's identity from AWS's answer (account, region, canonical names), never the flag
text: every spelling of one service takes the same lock, another region another lock, a bad name exits 2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cli_helpers import run_ecsops, start_ecsops
from deploy_helpers import deploy

from ecsops.sim.server import SimServer

ACCOUNT = "123456789012"
WEST = "us-west-2"
WEST_SERVICE_ARN = f"arn:aws:ecs:{WEST}:{ACCOUNT}:service/demo/web"
WEST_CLUSTER_ARN = f"arn:aws:ecs:{WEST}:{ACCOUNT}:cluster/demo"
WEST_KEY = f"ecs:{ACCOUNT}:{WEST}:demo/web"
EAST_KEY = f"ecs:{ACCOUNT}:us-east-1:demo/web"
IMAGE = ("--container-image", "app=nginx:1.27")


def _ecs_in(sim: SimServer, region: str) -> Any:
    return boto3.client("ecs", region_name=region, endpoint_url=sim.url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _same_service_in_the_west(sim: SimServer) -> Any:
    """demo/web also in us-west-2 (plain moto there: its deployments never finish, so a deploy stays waiting)."""
    ecs = _ecs_in(sim, WEST)
    ecs.create_cluster(clusterName="demo")
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "app", "image": "nginx:1.25", "memory": 128, "essential": True}
    ])
    ecs.create_service(cluster="demo", serviceName="web", taskDefinition="web", desiredCount=1)
    return ecs


@pytest.fixture
def west_holder(tmp_path: Path, aws_env: SimServer) -> Iterator[Any]:
    """A live `ecsops deploy` of demo/web in us-west-2 holding its lock: on the real clock it sleeps 10 minutes
    between polls once its deployment has started, so it is in flight for the whole test, then killed."""
    _same_service_in_the_west(aws_env)
    holder = start_ecsops(tmp_path / "s.db", "deploy", "--cluster", "demo", "--service", "web", "--region", WEST,
                          *IMAGE, "--poll-interval", "600", "--timeout", "1h", "--run-id", "holder",
                          ECSOPS_CLOCK="real")
    try:
        assert holder.stderr is not None
        seen = []
        for line in holder.stderr:  # blocks until the holder says its deployment started (or it exits)
            seen.append(line)
            if "deployment" in line and "started on" in line:
                break
        else:
            pytest.fail(f"the holding deploy ended early: {''.join(seen)}")
        yield holder
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param(("--cluster", "demo", "--service", "web", "--region", WEST), id="names"),
        pytest.param(("--cluster", "demo", "--service", WEST_SERVICE_ARN), id="service-arn"),
        pytest.param(("--cluster", WEST_CLUSTER_ARN, "--service", "web"), id="cluster-arn"),
        pytest.param(("--cluster", WEST_CLUSTER_ARN, "--service", WEST_SERVICE_ARN), id="both-arns"),
    ],
)
def test_every_spelling_of_a_service_in_flight_is_locked(
    tmp_path: Path, aws_env: SimServer, west_holder: Any, spelling: tuple[str, ...]
) -> None:
    store = tmp_path / "s.db"
    before = aws_env.mutating_calls()
    # On the holder's clock, the real one: a lease is judged in the time its holder keeps it in.
    second = run_ecsops(store, "deploy", *spelling, "--container-image", "app=nginx:1.28", "--poll-interval", "0",
                        ECSOPS_CLOCK="real")
    assert second.returncode == 5, second.stderr
    assert WEST_KEY in second.stderr and "locked by run holder" in second.stderr
    assert aws_env.mutating_calls() == before  # refused before any change
    assert west_holder.poll() is None  # the first deploy is still running


def test_the_same_service_in_another_region_goes_ahead(
    tmp_path: Path, aws_env: SimServer, west_holder: Any
) -> None:
    store = tmp_path / "s.db"
    east = deploy(store, *IMAGE, "--output", "json")  # demo/web in us-east-1 (the environment's region)
    assert east.returncode == 0, east.stderr
    assert east.json()["target"] == EAST_KEY
    listed = run_ecsops(store, "runs", "--output", "json").json()
    assert {(d["run_id"], d["target"], d["status"]) for d in listed} == {
        ("holder", WEST_KEY, "running"), (east.json()["run_id"], EAST_KEY, "succeeded"),
    }
    # What people type still finds both; the full key finds one.
    for typed in ("demo/web", "ecs:demo/web"):
        found = run_ecsops(store, "runs", "--target", typed, "--output", "json").json()
        assert {d["target"] for d in found} == {WEST_KEY, EAST_KEY}, typed
    only_west = run_ecsops(store, "runs", "--target", WEST_KEY, "--output", "json").json()
    assert [d["run_id"] for d in only_west] == ["holder"]
    assert run_ecsops(store, "runs", "--target", "demo/api", "--output", "json").json() == []


def test_a_deploy_by_arn_records_the_canonical_names_and_key(tmp_path: Path, aws_env: SimServer) -> None:
    result = run_ecsops(
        tmp_path / "s.db", "deploy", "--cluster", f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/demo",
        "--service", f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/demo/web", *IMAGE, "--poll-interval", "0",
        "--output", "json",
    )
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert document["target"] == EAST_KEY
    params = document["params"]  # what the handlers act on, also after a resume
    assert (params["cluster"], params["service"], params["region"], params["account"]) == (
        "demo", "web", "us-east-1", ACCOUNT)
    update = next(s for s in document["steps"] if s["name"] == "update_service")
    assert (update["request"]["cluster"], update["request"]["service"]) == ("demo", "web")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("--cluster", "demo", "--service", "api2/../web"), "--service 'api2/../web': not an ECS "
                     "service name", id="path-in-service"),
        pytest.param(("--cluster", "demo/x", "--service", "web"), "--cluster 'demo/x': not an ECS cluster name",
                     id="slash-in-cluster"),
        pytest.param(("--cluster", "demo", "--service", "web app"), "not an ECS service name", id="space"),
        pytest.param(("--cluster", "demo", "--service", "w" * 256), "not an ECS service name", id="too-long"),
        pytest.param(("--cluster", "demo", "--service", f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/web"),
                     "not an ECS service name", id="cluster-arn-as-service"),
        pytest.param(("--cluster", "other", "--service", f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/demo/web"),
                     "names a service of cluster 'demo' but --cluster is 'other'", id="service-arn-other-cluster"),
        pytest.param(("--cluster", "demo", "--service", WEST_SERVICE_ARN, "--region", "us-east-1"),
                     "--region us-east-1 but the ARN given names region us-west-2", id="arn-other-region"),
    ],
)
def test_a_name_aws_would_not_accept_is_bad_input(
    tmp_path: Path, aws_env: SimServer, args: tuple[str, ...], expected: str
) -> None:
    result = run_ecsops(tmp_path / "s.db", "deploy", *args, *IMAGE)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert aws_env.mutating_calls() == {}
    assert run_ecsops(tmp_path / "s.db", "runs", "--output", "json").json() == []


def test_a_service_arn_of_another_account_is_bad_input(tmp_path: Path, aws_env: SimServer) -> None:
    """moto finds services by their last name part; AWS would not: the answer's ARN must be the one typed."""
    other = "arn:aws:ecs:us-east-1:210987654321:service/demo/web"
    result = run_ecsops(tmp_path / "s.db", "deploy", "--cluster", "demo", "--service", other, *IMAGE)
    assert result.returncode == 2, result.stderr
    assert "account 210987654321, not 123456789012" in result.stderr
    assert aws_env.mutating_calls() == {}


def test_replace_instances_locks_the_group_by_its_arn(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    group_arn = aws_env.seeded.asgs["demo-asg"].arn
    result = run_ecsops(store, "replace-instances", "--asg", group_arn, "--cluster", "demo", "--poll-interval", "0",
                        "--output", "json")
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert document["target"] == f"asg:{ACCOUNT}:us-east-1:demo-asg"
    assert (document["asg"], document["cluster"]) == ("demo-asg", "demo")
    by_name = run_ecsops(store, "runs", "--target", "demo-asg", "--output", "json").json()
    assert [d["run_id"] for d in by_name] == [document["run_id"]]


@pytest.mark.parametrize(
    ("asg", "expected"),
    [
        pytest.param("demo:asg", "--asg 'demo:asg': not an Auto Scaling group name", id="colon"),
        pytest.param("demo asg", "not an Auto Scaling group name", id="space"),
        pytest.param("a" * 256, "not an Auto Scaling group name", id="too-long"),
    ],
)
def test_replace_instances_refuses_a_bad_group_name(
    tmp_path: Path, aws_env: SimServer, asg: str, expected: str
) -> None:
    result = run_ecsops(tmp_path / "s.db", "replace-instances", "--asg", asg, "--cluster", "demo")
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert aws_env.mutating_calls() == {}
