"""check_fleet on the simulator: deploy's preflight for every service (read calls only), faults naming service and
line; the fleet's dry run and a retry's differences from the resolved params."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from ecsops.deploy.params import DeployParams
from ecsops.deploy.preflight import Plan, PreflightAwsError
from ecsops.fleet.dry_run import dry_run_document, dry_run_lines
from ecsops.fleet.fleet_file import FleetOptions, read_fleet
from ecsops.fleet.preflight import FleetPlan, FleetPreflightError, check_fleet, fleet_target
from ecsops.fleet.retry import differences
from ecsops.sim.scenario import ClusterSpec, ContainerSpec, Scenario, ServiceSpec, TaskDefinitionSpec
from ecsops.sim.server import SimServer

ACCOUNT, REGION = "123456789012", "us-east-1"
GOOD = """\
cluster = "prod"
timeout = "20m"

[[service]]
service = "api"
container-image = ["app=repo/shop:v42"]
container-envvar = ["app=FEATURE_X=on"]

[[service]]
service = "worker"
container-image = ["app=repo/shop:v42"]
desired-count = 4

[[service]]
cluster = "batch"
service = "scheduler"
container-image = ["cron=repo/shop:v42"]
"""


def fleet_scenario() -> Scenario:
    """Clusters prod (api, worker; container app) and batch (scheduler; container cron), and `bg` on prod, a
    BLUE_GREEN service with a 30-minute bake."""
    def family(name: str, container: str) -> TaskDefinitionSpec:
        return TaskDefinitionSpec(family=name, containers=[ContainerSpec(name=container, image="repo/shop:v41")])

    return Scenario(
        clusters=[ClusterSpec(name="prod"), ClusterSpec(name="batch")],
        task_definitions=[family("api", "app"), family("worker", "app"), family("scheduler", "cron"),
                          family("bg", "app")],
        services=[
            ServiceSpec(name="api", cluster="prod", task_definition="api", desired_count=2),
            ServiceSpec(name="worker", cluster="prod", task_definition="worker", desired_count=2),
            ServiceSpec(name="scheduler", cluster="batch", task_definition="scheduler"),
            ServiceSpec(name="bg", cluster="prod", task_definition="bg", strategy="BLUE_GREEN", bake_time_minutes=30),
        ],
    )


@pytest.fixture
def fleet_env(aws_env: SimServer) -> SimServer:
    aws_env.reset(fleet_scenario())
    return aws_env


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "release.toml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def plan_of(tmp_path: Path, text: str = GOOD, **options: object) -> FleetPlan:
    return check_fleet(read_fleet(write(tmp_path, text), FleetOptions(**options)))  # type: ignore[arg-type]


def faults_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(FleetPreflightError) as caught:
        plan_of(tmp_path, text)
    return caught.value.faults


def test_a_good_fleet_resolves_every_service_with_its_snapshot(tmp_path: Path, fleet_env: SimServer) -> None:
    plan = plan_of(tmp_path, max_parallel=2)
    services = plan.params.services
    assert [s.name for s in services] == ["prod/api", "prod/worker", "batch/scheduler"]
    assert [s.line for s in services] == [4, 9, 14]
    assert [p.target for p in plan.plans] == [f"ecs:{ACCOUNT}:{REGION}:{name}" for name in
                                              ("prod/api", "prod/worker", "batch/scheduler")]
    for service, service_plan in zip(services, plan.plans, strict=True):
        assert service.params == service_plan.params_with_snapshot()
        assert service.params.snapshot is not None and service.params.account == ACCOUNT
        assert service.target == service_plan.target
    assert plan.params.max_parallel == 2 and plan.params.file.endswith("release.toml")
    assert re.fullmatch(rf"fleet:{ACCOUNT}:{REGION}:release#[0-9a-f]{{8}}", plan.target), plan.target
    assert fleet_env.mutating_calls() == {}
    assert fleet_env.counts(), "preflight read the services"


def test_the_fleet_target_does_not_depend_on_order_or_spelling(tmp_path: Path, fleet_env: SimServer) -> None:
    plan = plan_of(tmp_path)
    reordered = GOOD.replace('service = "api"', 'service = "arn:aws:ecs:us-east-1:123456789012:service/prod/api"')
    blocks = reordered.split("[[service]]")
    again = plan_of(tmp_path, "[[service]]".join([blocks[0], blocks[3].rstrip() + "\n\n", blocks[1], blocks[2]]))
    assert [s.name for s in again.params.services] == ["batch/scheduler", "prod/api", "prod/worker"]
    assert again.target == plan.target
    assert fleet_target("elsewhere/release.toml", plan.plans) == plan.target
    assert plan_of(tmp_path, GOOD.split("[[service]]", 3)[0] + "[[service]]" + GOOD.split("[[service]]")[1]
                   ).target != plan.target


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(("app=FEATURE_X=on", "nope=FEATURE_X=on"),
                     ":4: service api: container-envvar 'nope=FEATURE_X=on'", id="unknown-container"),
        pytest.param(('service = "worker"', 'service = "gone"'), ":9: service gone: service 'gone' not found",
                     id="missing-service"),
        pytest.param(('cluster = "batch"', 'cluster = "nowhere"'),
                     ":14: service scheduler: cluster 'nowhere' not found", id="missing-cluster"),
        pytest.param(('service = "worker"', 'service = "bg"\non-pause = "exit"'),
                     ':9: service bg: on-pause = "exit" would pause the whole fleet at one service\'s PAUSE hook',
                     id="blue-green-on-pause-exit"),
        pytest.param(('service = "worker"', 'service = "arn:aws:ecs:us-east-1:123456789012:service/prod/api"'),
                     ":9: service arn:aws:ecs:us-east-1:123456789012:service/prod/api: the same service as line 4 "
                     f"(ecs:{ACCOUNT}:{REGION}:prod/api): a fleet deploys each service once", id="name-and-arn"),
    ],
)
def test_each_fault_names_the_service_and_its_line(
    tmp_path: Path, fleet_env: SimServer, change: tuple[str, str], expected: str
) -> None:
    text = GOOD.replace(*change)
    faults = faults_of(tmp_path, text)
    path = str(tmp_path / "release.toml")
    assert len(faults) == 1 and faults[0].startswith(path + expected), faults
    assert fleet_env.mutating_calls() == {}


def test_every_service_is_checked_and_all_faults_reported(tmp_path: Path, fleet_env: SimServer) -> None:
    text = (GOOD.replace('service = "worker"', 'service = "bg"').replace("cron=", "nope=")
            + '\n[[service]]\nservice = "missing"\n')
    faults = [fault.removeprefix(str(tmp_path / "release.toml")) for fault in faults_of(tmp_path, text)]
    assert [fault.split(": ", 2)[:2] for fault in faults] == [
        [":9", "service bg"], [":14", "service scheduler"], [":19", "service missing"]]
    assert fleet_env.mutating_calls() == {}


def test_aws_unreadable_is_raised_at_once_not_as_a_fault(tmp_path: Path, fleet_env: SimServer) -> None:
    fleet_env.add_fault({"service": "ecs", "operation": "DescribeServices", "kind": "access_denied"})
    with pytest.raises(PreflightAwsError, match="nothing was changed"):
        plan_of(tmp_path)
    assert fleet_env.mutating_calls() == {}


def test_dry_run_shows_each_service_and_the_rollout_order(tmp_path: Path, fleet_env: SimServer) -> None:
    plan = plan_of(tmp_path, max_parallel=2)
    lines = dry_run_lines(plan)
    text = "\n".join(lines)
    for heading in ("== prod/api (line 4) ==", "== prod/worker (line 9) ==", "== batch/scheduler (line 14) =="):
        assert heading in lines
    assert "dry run: deploy to prod/api" in text and "repo/shop:v42" in text
    assert lines.count("strategy: ROLLING") == 3
    assert ("rollout: 3 services, at most 2 at once: prod/api, prod/worker start first; then batch/scheduler, in "
            "file order as slots free") in lines
    assert lines[-1] == "nothing was changed" and lines.count("nothing was changed") == 1
    document = dry_run_document(plan)
    assert (document["operation"], document["dry_run"], document["max_parallel"], document["on_failure"]) == (
        "deploy-fleet", True, 2, "rollback-failed")
    assert document["order"] == ["prod/api", "prod/worker", "batch/scheduler"]
    first = document["services"][0]
    assert (first["name"], first["line"], first["strategy"]) == ("prod/api", 4, "ROLLING")
    assert first["target"] == f"ecs:{ACCOUNT}:{REGION}:prod/api"
    assert first["plan"]["cluster"] == "prod" and first["plan"]["registers_new_revision"] is True
    assert "rollout: 3 services, all at once" in dry_run_lines(plan_of(tmp_path))[-2]
    assert "one at a time, in file order" in dry_run_lines(plan_of(tmp_path, max_parallel=1))[-2]
    assert fleet_env.mutating_calls() == {}


def test_a_retry_differs_in_what_was_changed_not_in_spelling(tmp_path: Path, fleet_env: SimServer) -> None:
    recorded = plan_of(tmp_path, max_parallel=2).params.recorded()
    path = write(tmp_path, GOOD)
    assert differences(read_fleet(path, FleetOptions(max_parallel=2)), recorded) == []
    arn = GOOD.replace('service = "api"', 'service = "arn:aws:ecs:us-east-1:123456789012:service/prod/api"')
    assert differences(read_fleet(write(tmp_path, "# a comment\n" + arn), FleetOptions(max_parallel=2)),
                       recorded) == []
    changed = GOOD.replace("worker\"\ncontainer-image = [\"app=repo/shop:v42", "worker\"\ncontainer-image = "
                           "[\"app=repo/shop:v43").replace('"20m"', '"20m"\npoll-interval = "5s"')
    changed += '\n[[service]]\nservice = "bg"\n'
    found = differences(read_fleet(write(tmp_path, changed), FleetOptions(on_failure="stop")), recorded)
    assert found == [
        "max parallel: recorded 2, now every service at once",
        "on failure: recorded rollback-failed, now stop",
        "poll interval: recorded adaptive, now 5s",
        "services: recorded 3, now 4",
        "service prod/worker: container image app: recorded repo/shop:v42, now repo/shop:v43",
        "service prod/bg: in the file now, not recorded",
    ]
    assert fleet_env.mutating_calls() == {}


def test_services_in_two_regions_are_one_fault(
    tmp_path: Path, fleet_env: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One simulator is one region: the scheduler is made to answer from another, as an ARN typed for it would."""
    import dataclasses

    from ecsops.aws.arns import EcsServiceIdentity
    from ecsops.fleet import preflight

    real = preflight.check_against_aws

    def elsewhere(params: DeployParams, on_retry: object = None, ecs: object = None) -> Plan:
        plan = real(params, ecs=ecs)  # type: ignore[arg-type]
        if plan.identity.service != "scheduler":
            return plan
        return dataclasses.replace(plan, identity=EcsServiceIdentity(ACCOUNT, "eu-west-1", "batch", "scheduler"))

    monkeypatch.setattr(preflight, "check_against_aws", elsewhere)
    [fault] = faults_of(tmp_path, GOOD)
    assert fault == (f"{tmp_path / 'release.toml'}: services in more than one account or region: account {ACCOUNT} "
                     f"region {REGION} (lines 4, 9); account {ACCOUNT} region eu-west-1 (line 14); one fleet deploys "
                     "in one account and region (one AWS session): split the file")


def test_rollback_all_refuses_a_service_ecs_deploys_itself(tmp_path: Path, fleet_env: SimServer) -> None:
    """StopServiceDeployment rolls back a service deployment in progress only: a BLUE_GREEN service that finished
    cannot be taken back by rollback-all, so such a fleet is refused before anything changes."""
    text = GOOD.replace('service = "worker"', 'service = "bg"').replace('timeout = "20m"', 'timeout = "50m"')
    assert plan_of(tmp_path, text).params.services[1].name == "prod/bg"  # followed under rollback-failed
    with pytest.raises(FleetPreflightError) as caught:
        plan_of(tmp_path, text, on_failure="rollback-all")
    assert [fault.removeprefix(str(tmp_path / "release.toml")) for fault in caught.value.faults] == [
        ":9: service bg: deploys BLUE_GREEN: --on-failure rollback-all cannot take it back once its service "
        "deployment finished (ECS rolls back a service deployment in progress only); use --on-failure "
        "rollback-failed or stop, or deploy it with `ecsops deploy`"]
    assert fleet_env.mutating_calls() == {}
