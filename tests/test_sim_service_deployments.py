"""The simulator's ECS service deployments and deployment strategies, driven with plain boto3 on virtual time."""

from __future__ import annotations

import itertools
import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecsops.sim.scenario import load_scenario
from ecsops.sim.server import SimServer

STAGES = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
]


def bluegreen(services: dict[str, dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """The built-in bluegreen scenario as a dict, with per-service fields and scenario fields changed."""
    document = load_scenario("bluegreen").model_dump()
    for spec in document["services"]:
        spec.update((services or {}).get(spec["name"], {}))
    document.update(extra)
    return document


def deploy(sim: SimServer, service: str, image: str = "nginx:1.26") -> str:
    """Register a new revision of the service's family with `image`, UpdateService to it; the deployment's ARN."""
    ecs = sim.client("ecs")
    found = ecs.describe_services(cluster="demo", services=[service])["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=found["taskDefinition"])["taskDefinition"]
    containers = definition["containerDefinitions"]
    containers[0]["image"] = image
    arn = ecs.register_task_definition(family=definition["family"], containerDefinitions=containers)[
        "taskDefinition"
    ]["taskDefinitionArn"]
    ecs.update_service(cluster="demo", service=service, taskDefinition=arn)
    newest = ecs.list_service_deployments(cluster="demo", service=service)["serviceDeployments"][0]
    assert newest["targetServiceRevisionArn"]
    return str(newest["serviceDeploymentArn"])


def describe(sim: SimServer, arn: str) -> dict[str, Any]:
    found: dict[str, Any] = sim.client("ecs").describe_service_deployments(serviceDeploymentArns=[arn])[
        "serviceDeployments"
    ][0]
    return found


def until(sim: SimServer, arn: str, done: Callable[[dict[str, Any]], bool], step: float = 5.0,
          limit: float = 4 * 3600) -> dict[str, Any]:
    """Advance virtual time `step` at a time until `done(deployment)`; fail past `limit` virtual seconds."""
    start = sim.now()
    while sim.now() - start < limit:
        deployment = describe(sim, arn)
        if done(deployment):
            return deployment
        sim.advance(step)
    raise AssertionError(f"not done after {limit} virtual seconds: {describe(sim, arn)}")


def finished(deployment: dict[str, Any]) -> bool:
    return deployment["status"] in ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")


def walk(sim: SimServer, arn: str) -> list[tuple[str, str | None]]:
    return [(c["status"], c["lifecycleStage"]) for c in sim.service_deployment_changes()
            if c["serviceDeploymentArn"] == arn]


def statuses(sim: SimServer, arn: str) -> list[str]:
    seen: list[str] = []
    for status, _ in walk(sim, arn):
        if not seen or seen[-1] != status:
            seen.append(status)
    return seen


# --- good deploys per strategy ------------------------------------------------------------------------------


def test_blue_green_succeeds_only_after_bake_and_clean_up(sim: SimServer) -> None:
    sim.reset("bluegreen")
    ecs = sim.client("ecs")
    before = ecs.describe_services(cluster="demo", services=["bg"])["services"][0]
    arn = deploy(sim, "bg")
    baking = until(sim, arn, lambda d: d.get("lifecycleStage") == "BAKE_TIME")
    bake_start = sim.now()
    service = ecs.describe_services(cluster="demo", services=["bg"])["services"][0]
    deployments = service["deployments"]
    assert [d["status"] for d in deployments] == ["PRIMARY", "ACTIVE"]
    assert [d["runningCount"] for d in deployments] == [2, 2]
    assert all("rolloutState" not in d and "rolloutStateReason" not in d for d in deployments)
    assert deployments[1]["taskDefinition"] == before["taskDefinition"]
    assert baking["status"] == "IN_PROGRESS"
    assert baking["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100.0
    assert baking["sourceServiceRevisions"][0]["runningTaskCount"] == 2
    sim.advance(29 * 60)
    assert describe(sim, arn)["status"] == "IN_PROGRESS"
    done = until(sim, arn, finished)
    assert done["status"] == "SUCCESSFUL"
    assert done["finishedAt"].timestamp() >= bake_start + 30 * 60 - 10
    assert [stage for _, stage in walk(sim, arn)] == [*STAGES, "CLEAN_UP"]
    assert statuses(sim, arn) == ["IN_PROGRESS", "SUCCESSFUL"]
    after = ecs.describe_services(cluster="demo", services=["bg"])["services"][0]
    assert [d["status"] for d in after["deployments"]] == ["PRIMARY"]
    assert after["runningCount"] == 2


def test_every_bluegreen_strategy_reaches_successful_after_its_bake(sim: SimServer) -> None:
    sim.reset("bluegreen")
    for service, bake_minutes in (("lin", 5), ("can", 5)):
        arn = deploy(sim, service)
        until(sim, arn, lambda d: d.get("lifecycleStage") == "BAKE_TIME")
        entered = next(c["at"] for c in sim.service_deployment_changes()
                       if c["serviceDeploymentArn"] == arn and c["lifecycleStage"] == "BAKE_TIME")
        done = until(sim, arn, finished)
        assert done["status"] == "SUCCESSFUL"
        successful = next(c["at"] for c in sim.service_deployment_changes()
                          if c["serviceDeploymentArn"] == arn and c["status"] == "SUCCESSFUL")
        assert successful >= entered + bake_minutes * 60


def production_weights(sim: SimServer, arn: str) -> list[tuple[float, float]]:
    """(virtual time, target production weight) at each change, polling every 5 virtual seconds."""
    seen: list[tuple[float, float]] = []
    while True:
        deployment = describe(sim, arn)
        weight = deployment["targetServiceRevision"]["requestedProductionTrafficWeight"]
        source = deployment["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"]
        assert weight + source == 100.0
        if not seen or seen[-1][1] != weight:
            seen.append((sim.now(), weight))
        if deployment["lifecycleStage"] in ("BAKE_TIME", "CLEAN_UP"):
            return seen
        sim.advance(5)


def test_linear_shifts_in_steps_with_step_bakes(sim: SimServer) -> None:
    sim.reset("bluegreen")
    seen = production_weights(sim, deploy(sim, "lin"))
    assert [w for _, w in seen] == [0.0, 25.0, 50.0, 75.0, 100.0]
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(seen[1:])]
    assert all(gap >= 120 for gap in gaps)


def test_canary_shifts_canary_percent_then_the_rest(sim: SimServer) -> None:
    sim.reset("bluegreen")
    seen = production_weights(sim, deploy(sim, "can"))
    assert [w for _, w in seen] == [0.0, 10.0, 100.0]
    assert seen[2][0] - seen[1][0] >= 300


# --- rolling ------------------------------------------------------------------------------------------------


def test_rolling_service_gets_a_service_deployment_and_keeps_its_behaviour(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    arn = deploy(sim, "web")
    service = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert service["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    ecs.get_waiter("services_stable").wait(
        cluster="demo", services=["web"], WaiterConfig={"Delay": 0, "MaxAttempts": 200}
    )
    service = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"
    deployment = describe(sim, arn)
    assert deployment["status"] == "SUCCESSFUL"
    assert "lifecycleStage" not in deployment
    assert service["currentServiceDeployment"] == arn
    revision = sim.client("ecs").describe_service_revisions(
        serviceRevisionArns=[deployment["targetServiceRevision"]["arn"]]
    )["serviceRevisions"][0]
    assert revision["taskDefinition"] == service["taskDefinition"]
    assert revision["containerImages"] == [{"containerName": "app", "image": "nginx:1.26"}]
    assert deployment["sourceServiceRevisions"][0]["arn"] != revision["serviceRevisionArn"]


def test_rolling_circuit_breaker_rollback_makes_no_new_service_deployment(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    before = ecs.list_service_deployments(cluster="demo", service="web")["serviceDeployments"]
    arn = deploy(sim, "web", "nginx:broken")
    done = until(sim, arn, finished)
    assert done["status"] == "ROLLBACK_SUCCESSFUL"
    assert statuses(sim, arn) == ["IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]
    assert done["rollback"]["serviceRevisionArn"] == before[0]["targetServiceRevisionArn"]
    assert done["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert done["deploymentCircuitBreaker"]["failureCount"] >= done["deploymentCircuitBreaker"]["threshold"] == 3
    after = ecs.list_service_deployments(cluster="demo", service="web")["serviceDeployments"]
    assert len(after) == len(before) + 1
    service = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"


# --- failures of native strategies --------------------------------------------------------------------------


def test_blue_green_failing_image_trips_the_breaker_in_scale_up_and_rolls_back(sim: SimServer) -> None:
    sim.reset("bluegreen")
    ecs = sim.client("ecs")
    before = ecs.describe_services(cluster="demo", services=["bg"])["services"][0]
    arn = deploy(sim, "bg", "nginx:broken")
    new_id = ecs.describe_services(cluster="demo", services=["bg"])["services"][0]["deployments"][0]["id"]
    done = until(sim, arn, finished)
    assert done["status"] == "ROLLBACK_SUCCESSFUL"
    assert done["lifecycleStage"] == "SCALE_UP"
    assert statuses(sim, arn) == ["IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]
    assert done["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert done["rollback"]["serviceRevisionArn"] == done["sourceServiceRevisions"][0]["arn"]
    assert "circuit breaker" in done["rollback"]["reason"]
    failed = ecs.list_tasks(cluster="demo", startedBy=new_id, desiredStatus="STOPPED")["taskArns"]
    assert len(failed) >= 3
    service = ecs.describe_services(cluster="demo", services=["bg"])["services"][0]
    assert [d["status"] for d in service["deployments"]] == ["PRIMARY"]
    assert service["taskDefinition"] == before["taskDefinition"]
    assert service["runningCount"] == 2


@pytest.mark.parametrize(
    ("answer", "action", "outcome"),
    [
        ("FAILED", None, "ROLLBACK_SUCCESSFUL"),
        ("NEVER", "CONTINUE", "SUCCESSFUL"),
        ("NEVER", "ROLLBACK", "ROLLBACK_SUCCESSFUL"),
        ("SUCCEEDED", None, "SUCCESSFUL"),
    ],
)
def test_lambda_hook_answers_and_timeouts(sim: SimServer, answer: str, action: str | None, outcome: str) -> None:
    hook = {"target_type": "AWS_LAMBDA", "lifecycle_stages": ["POST_SCALE_UP"], "timeout_minutes": 10,
            "timeout_action": action}
    sim.reset(bluegreen({"bg": {"lifecycle_hooks": [hook], "bake_time_minutes": 1}},
                        hook_answers=[{"service": "bg", "stage": "POST_SCALE_UP", "answer": answer}]))
    arn = deploy(sim, "bg")
    waiting = until(sim, arn, lambda d: d.get("lifecycleStage") == "POST_SCALE_UP")
    detail = waiting["lifecycleHookDetails"][0]
    assert detail["targetType"] == "AWS_LAMBDA" and detail["hookId"].startswith("ecs-lambda-")
    assert detail["targetArn"].startswith("arn:aws:lambda:us-east-1:123456789012:function:")
    assert detail["timeoutAction"] == (action or "ROLLBACK")
    done = until(sim, arn, finished)
    assert done["status"] == outcome
    if answer == "NEVER":
        assert any(c["lifecycleStage"] == "POST_SCALE_UP" for c in sim.service_deployment_changes())
        assert (done["finishedAt"] - done["createdAt"]).total_seconds() >= 600
    if outcome.startswith("ROLLBACK"):
        assert done["lifecycleStage"] == "POST_SCALE_UP"
        assert "hook" in done["rollback"]["reason"].lower()


@pytest.mark.parametrize("action", ["CONTINUE", "ROLLBACK"])
def test_pause_hook_waits_for_continue_service_deployment(sim: SimServer, action: str) -> None:
    hook = {"target_type": "PAUSE", "lifecycle_stages": ["POST_TEST_TRAFFIC_SHIFT"], "timeout_minutes": 60}
    sim.reset(bluegreen({"bg": {"lifecycle_hooks": [hook], "bake_time_minutes": 1}}))
    ecs = sim.client("ecs")
    arn = deploy(sim, "bg")
    paused = until(sim, arn, lambda d: d.get("lifecycleStage") == "POST_TEST_TRAFFIC_SHIFT")
    detail = paused["lifecycleHookDetails"][0]
    assert detail["status"] == "AWAITING_ACTION" and detail["targetType"] == "PAUSE" and "targetArn" not in detail
    assert detail["hookId"].startswith("ecs-pause-")
    assert detail["expiresAt"].timestamp() > sim.now() + 50 * 60
    sim.advance(20 * 60)
    assert describe(sim, arn)["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    with pytest.raises(ClientError) as refused:
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="ecs-pause-nope", action="CONTINUE")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=detail["hookId"], action=action)
    done = until(sim, arn, finished)
    assert done["status"] == ("SUCCESSFUL" if action == "CONTINUE" else "ROLLBACK_SUCCESSFUL")
    if action == "ROLLBACK":
        assert "ContinueServiceDeployment" in done["rollback"]["reason"]


def test_pause_hook_timeout_takes_its_action(sim: SimServer) -> None:
    hook = {"target_type": "PAUSE", "lifecycle_stages": ["PRE_SCALE_UP"], "timeout_minutes": 5,
            "timeout_action": "CONTINUE"}
    sim.reset(bluegreen({"bg": {"lifecycle_hooks": [hook], "bake_time_minutes": 1}}))
    arn = deploy(sim, "bg")
    paused = until(sim, arn, lambda d: d.get("lifecycleStage") == "PRE_SCALE_UP")
    expires = paused["lifecycleHookDetails"][0]["expiresAt"].timestamp()
    sim.advance(expires - sim.now() - 10)
    assert describe(sim, arn)["lifecycleHookDetails"][0]["status"] == "AWAITING_ACTION"
    done = until(sim, arn, finished)
    assert done["status"] == "SUCCESSFUL"
    scale_up = next(c["at"] for c in sim.service_deployment_changes()
                    if c["serviceDeploymentArn"] == arn and c["lifecycleStage"] == "SCALE_UP")
    assert scale_up == pytest.approx(expires)


def test_alarm_breach_in_bake_rolls_back(sim: SimServer) -> None:
    sim.reset(bluegreen({"bg": {"alarms": ["bg-5xx", "bg-latency"]}},
                        alarm_breaches=[{"service": "bg", "alarm": "bg-5xx", "after_bake_seconds": 120}]))
    arn = deploy(sim, "bg")
    monitoring = until(sim, arn, lambda d: d.get("lifecycleStage") == "BAKE_TIME")
    assert monitoring["alarms"] == {"status": "MONITORING", "alarmNames": ["bg-5xx", "bg-latency"],
                                    "triggeredAlarmNames": []}
    done = until(sim, arn, finished)
    assert done["status"] == "ROLLBACK_SUCCESSFUL"
    assert done["alarms"]["status"] == "TRIGGERED" and done["alarms"]["triggeredAlarmNames"] == ["bg-5xx"]
    assert done["lifecycleStage"] == "BAKE_TIME"
    assert done["rollback"]["startedAt"].timestamp() - monitoring["updatedAt"].timestamp() <= 130


def test_failing_rollback_ends_rollback_failed(sim: SimServer) -> None:
    sim.reset(bluegreen(failing_rollbacks=["bg"]))
    arn = deploy(sim, "bg", "nginx:broken")
    done = until(sim, arn, finished)
    assert done["status"] == "ROLLBACK_FAILED"
    assert statuses(sim, arn)[-2:] == ["ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED"]


def test_foreign_update_stops_ours_and_the_newer_proceeds(sim: SimServer) -> None:
    sim.reset(bluegreen(foreign_updates=[{"service": "bg", "stage": "BAKE_TIME"}]))
    ecs = sim.client("ecs")
    arn = deploy(sim, "bg")
    ours = until(sim, arn, finished)
    assert ours["status"] == "STOPPED"
    assert "newer" in ours["statusReason"]
    newest = ecs.list_service_deployments(cluster="demo", service="bg")["serviceDeployments"][0]
    assert newest["serviceDeploymentArn"] != arn
    assert newest["targetServiceRevisionArn"] != ours["targetServiceRevision"]["arn"]
    theirs = until(sim, newest["serviceDeploymentArn"], finished)
    assert theirs["status"] == "SUCCESSFUL"
    in_progress = ecs.list_service_deployments(cluster="demo", service="bg", status=["IN_PROGRESS"])
    assert in_progress["serviceDeployments"] == []


@pytest.mark.parametrize(("stop_type", "path"), [
    ("ROLLBACK", ["IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]),
    ("ABORT", ["IN_PROGRESS", "STOP_REQUESTED", "STOPPED"]),
])
def test_scenario_stop_at_a_stage(sim: SimServer, stop_type: str, path: list[str]) -> None:
    sim.reset(bluegreen(stops=[{"service": "bg", "stage": "TEST_TRAFFIC_SHIFT", "stop_type": stop_type}]))
    arn = deploy(sim, "bg")
    done = until(sim, arn, finished)
    assert statuses(sim, arn) == path
    assert done["lifecycleStage"] == "TEST_TRAFFIC_SHIFT"
    if stop_type == "ROLLBACK":
        assert "StopServiceDeployment" in done["rollback"]["reason"]
    else:
        assert "rollback" not in done


def test_stop_service_deployment_api(sim: SimServer) -> None:
    sim.reset("bluegreen")
    ecs = sim.client("ecs")
    arn = deploy(sim, "bg")
    until(sim, arn, lambda d: d.get("lifecycleStage") == "BAKE_TIME")
    assert ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")["serviceDeploymentArn"] == arn
    assert describe(sim, arn)["status"] in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")  # the read ticks 5 s
    done = until(sim, arn, finished)
    assert statuses(sim, arn) == ["IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]
    assert done["lifecycleStage"] == "BAKE_TIME"
    with pytest.raises(ClientError) as finished_refusal:
        ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert finished_refusal.value.response["Error"]["Code"] == "ConflictException"
    missing = arn[:-3] + "xyz"
    with pytest.raises(ClientError) as unknown:
        ecs.stop_service_deployment(serviceDeploymentArn=missing)
    assert unknown.value.response["Error"]["Code"] == "ServiceDeploymentNotFoundException"
    described = ecs.describe_service_deployments(serviceDeploymentArns=[arn, missing])
    assert described["failures"] == [{"arn": missing, "reason": "MISSING"}]


# --- the API surface ----------------------------------------------------------------------------------------


def test_list_filters_pages_and_arn_formats(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    first = deploy(sim, "web")
    ecs.get_waiter("services_stable").wait(cluster="demo", services=["web"],
                                          WaiterConfig={"Delay": 0, "MaxAttempts": 200})
    second = deploy(sim, "web", "nginx:1.27")
    listed = ecs.list_service_deployments(cluster="demo", service="web")["serviceDeployments"]
    assert [d["serviceDeploymentArn"] for d in listed[:2]] == [second, first]
    assert first.startswith("arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/web/")
    assert len(first.rsplit("/", 1)[-1]) == 22
    assert listed[0]["targetServiceRevisionArn"].startswith(
        "arn:aws:ecs:us-east-1:123456789012:service-revision/demo/web/"
    )
    done = ecs.list_service_deployments(cluster="demo", service="web", status=["SUCCESSFUL"])["serviceDeployments"]
    done_arns = [d["serviceDeploymentArn"] for d in done]
    assert first in done_arns and second not in done_arns
    page = ecs.list_service_deployments(cluster="demo", service="web", maxResults=1)
    assert len(page["serviceDeployments"]) == 1 and page["nextToken"]
    rest = ecs.list_service_deployments(cluster="demo", service="web", maxResults=1, nextToken=page["nextToken"])
    assert rest["serviceDeployments"][0]["serviceDeploymentArn"] == first
    created = describe(sim, second)["createdAt"]
    recent = ecs.list_service_deployments(cluster="demo", service="web", createdAt={"after": created})
    assert [d["serviceDeploymentArn"] for d in recent["serviceDeployments"]] == [second]
    with pytest.raises(ClientError) as missing:
        ecs.list_service_deployments(cluster="demo", service="nope")
    assert missing.value.response["Error"]["Code"] == "ServiceNotFoundException"


def test_calls_are_counted_tick_and_take_faults(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    sim.reset_counts()
    before = sim.now()
    ecs.list_service_deployments(cluster="demo", service="web")
    assert sim.now() >= before + sim.scenario.tick_seconds
    assert sim.counts()["ecs:ListServiceDeployments"] == 1
    sim.add_fault({"service": "ecs", "operation": "ListServiceDeployments", "kind": "access_denied"})
    with pytest.raises(ClientError) as denied:
        ecs.list_service_deployments(cluster="demo", service="web")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert sim.counts()["ecs:ListServiceDeployments"] == 2


def test_current_service_deployment_lags_then_names_the_newest(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    seeded = ecs.list_service_deployments(cluster="demo", service="web")["serviceDeployments"][0]
    arn = deploy(sim, "web")
    sim.advance(1)
    service = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert service["currentServiceDeployment"] in (arn, seeded["serviceDeploymentArn"])
    sim.advance(5)
    assert ecs.describe_services(cluster="demo", services=["web"])["services"][0]["currentServiceDeployment"] == arn


def test_status_changes_endpoint(sim: SimServer) -> None:
    arn = deploy(sim, "web")
    sim.advance(300)
    with urllib.request.urlopen(f"{sim.url}/_ecsops/service-deployments") as response:
        changes = json.load(response)
    ours = [c for c in changes if c["serviceDeploymentArn"] == arn]
    assert [c["status"] for c in ours] == ["IN_PROGRESS", "SUCCESSFUL"]
    assert ours[0]["at"] < ours[1]["at"] <= sim.now()
    assert {"cluster", "service", "lifecycleStage"} <= set(ours[0])


def test_bluegreen_scenario_services(sim: SimServer) -> None:
    sim.reset("bluegreen")
    ecs = sim.client("ecs")
    services = ecs.describe_services(cluster="demo", services=["bg", "lin", "can", "web"])["services"]
    configs = {s["serviceName"]: s["deploymentConfiguration"] for s in services}
    assert configs["bg"]["strategy"] == "BLUE_GREEN" and configs["bg"]["bakeTimeInMinutes"] == 30
    assert configs["lin"]["linearConfiguration"] == {"stepPercent": 25.0, "stepBakeTimeInMinutes": 2}
    assert configs["can"]["canaryConfiguration"] == {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5}
    assert "strategy" not in configs["web"]
    assert all(s["runningCount"] == 2 and len(s["deployments"]) == 1 for s in services)
    for name in ("bg", "lin", "can"):
        seeded = ecs.list_service_deployments(cluster="demo", service=name)["serviceDeployments"]
        assert [d["status"] for d in seeded] == ["SUCCESSFUL"]


def test_rolling_stop_rollback_and_foreign_update(sim: SimServer) -> None:
    ecs = sim.client("ecs")
    before = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    arn = deploy(sim, "web")
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    done = until(sim, arn, finished)
    assert statuses(sim, arn) == ["IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]
    service = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert service["taskDefinition"] == before["taskDefinition"]
    assert done["rollback"]["serviceRevisionArn"] == done["sourceServiceRevisions"][0]["arn"]

    demo = load_scenario("demo").model_dump()
    sim.reset(demo | {"foreign_updates": [{"service": "web", "stage": "SCALE_UP"}]})
    ours = deploy(sim, "web")
    stopped = until(sim, ours, finished)
    assert stopped["status"] == "STOPPED" and "newer" in stopped["statusReason"]
    newest = ecs.list_service_deployments(cluster="demo", service="web")["serviceDeployments"][0]
    assert until(sim, newest["serviceDeploymentArn"], finished)["status"] == "SUCCESSFUL"


def test_production_shift_hooks_run_before_and_after_each_step(sim: SimServer) -> None:
    hooks = [{"lifecycle_stages": ["PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"]}]
    slow = {"service": "lin", "stage": "PRE_PRODUCTION_TRAFFIC_SHIFT", "answer": "SUCCEEDED", "after_seconds": 30}
    sim.reset(bluegreen({"lin": {"lifecycle_hooks": hooks}}, hook_answers=[slow]))
    arn = deploy(sim, "lin")
    seen: list[tuple[float, int]] = []
    while True:
        deployment = describe(sim, arn)
        if deployment["lifecycleStage"] != "PRODUCTION_TRAFFIC_SHIFT" and seen:
            break
        if deployment["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT":
            weight = deployment["targetServiceRevision"]["requestedProductionTrafficWeight"]
            ids = len(deployment["lifecycleHookDetails"])
            if not seen or seen[-1][0] != weight:
                seen.append((weight, ids))
        sim.advance(5)
    assert [w for w, _ in seen][:4] == [0.0, 25.0, 50.0, 75.0]  # 100 lasts one stage: a 5 s poll may miss it
    assert all(count == 1 for _, count in seen)
    assert until(sim, arn, finished)["status"] == "SUCCESSFUL"


def test_scenario_fields_load_from_a_json_file(tmp_path: Any) -> None:
    document = bluegreen(
        {"bg": {"lifecycle_hooks": [{"target_type": "PAUSE", "lifecycle_stages": ["POST_SCALE_UP"],
                                     "timeout_minutes": 30, "timeout_action": "CONTINUE"}],
                "alarms": ["bg-5xx"], "alarm_rollback": False}},
        hook_answers=[{"service": "bg", "stage": "POST_SCALE_UP", "answer": "NEVER"}],
        alarm_breaches=[{"service": "bg", "alarm": "bg-5xx"}],
        failing_rollbacks=["bg"],
        foreign_updates=[{"service": "bg", "stage": "BAKE_TIME", "image": "nginx:1.26"}],
        stops=[{"service": "bg", "stage": "SCALE_UP", "stop_type": "ABORT"}],
    )
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(document))
    scenario = load_scenario(str(path))
    bg = next(s for s in scenario.services if s.name == "bg")
    configuration = bg.deployment_configuration(scenario.region, scenario.account)
    assert configuration["lifecycleHooks"] == [
        {"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"],
         "timeoutConfiguration": {"timeoutInMinutes": 30, "action": "CONTINUE"}}
    ]
    assert configuration["alarms"] == {"alarmNames": ["bg-5xx"], "enable": True, "rollback": False}
    assert scenario.hook_answers[0].after_seconds == 10 and scenario.alarm_breaches[0].after_bake_seconds == 60
    assert scenario.stops[0].stop_type == "ABORT" and scenario.foreign_updates[0].image == "nginx:1.26"
    web = next(s for s in scenario.services if s.name == "web")
    assert web.deployment_configuration() == {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }


def test_services_stable_waiter_on_blue_green_returns_only_after_clean_up(sim: SimServer) -> None:
    sim.reset("bluegreen")
    ecs = sim.client("ecs")
    arn = deploy(sim, "bg")
    ecs.get_waiter("services_stable").wait(
        cluster="demo", services=["bg"], WaiterConfig={"Delay": 0, "MaxAttempts": 1000}
    )
    deployment = describe(sim, arn)
    assert deployment["status"] == "SUCCESSFUL" and deployment["lifecycleStage"] == "CLEAN_UP"
    assert (deployment["finishedAt"] - deployment["createdAt"]).total_seconds() >= 30 * 60
