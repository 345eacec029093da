"""The strategy read from DescribeServices and the verdict on one ServiceDeployment, without AWS."""

from __future__ import annotations

from ecsops.deploy.service_deployment_verdict import Phase, look_at, trigger
from ecsops.deploy.strategy import strategy_of


def _service(**config: object) -> dict[str, object]:
    return {"deploymentConfiguration": config}


def test_rolling_is_the_default_and_takes_no_least_time() -> None:
    plan = strategy_of({})
    assert plan.strategy == "ROLLING" and not plan.native and plan.least_seconds() == 0


def test_linear_steps_bake_between_steps_not_after_the_last() -> None:
    plan = strategy_of(_service(strategy="LINEAR", bakeTimeInMinutes=5,
                                linearConfiguration={"stepPercent": 30.0, "stepBakeTimeInMinutes": 2}))
    assert plan.traffic_steps() == [(30.0, 2), (60.0, 2), (90.0, 2), (100.0, 0)]
    assert plan.least_seconds() == (3 * 2 + 5) * 60


def test_canary_then_the_rest() -> None:
    plan = strategy_of(_service(strategy="CANARY", bakeTimeInMinutes=10,
                                canaryConfiguration={"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 15}))
    assert plan.traffic_steps() == [(5.0, 15), (100.0, 0)]
    assert plan.least_seconds() == 25 * 60


def test_pause_hooks_and_alarms_are_described() -> None:
    plan = strategy_of(_service(
        strategy="BLUE_GREEN", bakeTimeInMinutes=30,
        lifecycleHooks=[{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                         "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "ROLLBACK"}}],
        alarms={"alarmNames": ["5xx"], "enable": True, "rollback": True},
    ))
    lines = "\n".join(plan.lines())
    assert plan.pauses and "PAUSE hook: a person must act" in lines and "after 1h00m00s ECS does ROLLBACK" in lines
    assert "alarms watched: 5xx (in ALARM: ECS rolls back)" in lines
    assert "least time to finish: 30m00s of bakes; PAUSE hooks wait for a person on top" in lines


def test_disabled_alarms_are_not_watched() -> None:
    plan = strategy_of(_service(strategy="BLUE_GREEN", alarms={"alarmNames": ["5xx"], "enable": False}))
    assert plan.alarms == []


def test_phases_by_status_and_an_awaiting_pause_hook() -> None:
    assert look_at({"status": "ROLLBACK_REQUESTED"}).phase is Phase.ROLLING_BACK
    assert look_at({"status": "STOP_REQUESTED"}).phase is Phase.IN_PROGRESS
    assert look_at({"status": "ROLLBACK_FAILED"}).phase.final
    paused = look_at({"status": "IN_PROGRESS", "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
                      "lifecycleHookDetails": [{"hookId": "h1", "targetType": "PAUSE", "status": "AWAITING_ACTION"}]})
    assert paused.phase is Phase.PAUSED and paused.awaiting_hook is not None
    lambda_waiting = look_at({"status": "IN_PROGRESS", "lifecycleHookDetails": [
        {"hookId": "h2", "targetType": "AWS_LAMBDA", "status": "IN_PROGRESS"}]})
    assert lambda_waiting.phase is Phase.IN_PROGRESS


def test_the_trigger_names_hook_and_stage_alarms_and_breaker_counts() -> None:
    deployment = {
        "status": "ROLLBACK_IN_PROGRESS", "lifecycleStage": "POST_SCALE_UP",
        "lifecycleHookDetails": [
            {"hookId": "h", "targetType": "AWS_LAMBDA", "targetArn": "arn:fn", "status": "FAILED"}],
        "alarms": {"status": "TRIGGERED", "triggeredAlarmNames": ["5xx", "latency"]},
        "deploymentCircuitBreaker": {"status": "TRIGGERED", "failureCount": 3, "threshold": 3},
        "rollback": {"reason": "hook failed"},
    }
    said = trigger(deployment)
    assert "AWS_LAMBDA hook arn:fn failed at POST_SCALE_UP" in said
    assert "alarm in ALARM: 5xx, latency" in said
    assert "3 failed tasks reached its threshold of 3" in said
    assert "rollback reason: hook failed" in said
    assert trigger({"status": "STOPPED"}) == "status STOPPED"
