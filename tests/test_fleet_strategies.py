"""deploy-fleet with BLUE_GREEN, LINEAR and CANARY services: each follows its own service deployment, all of them
read with one DescribeServiceDeployments per round; a PAUSE hook holds one service while the others go on."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_ecsops, start_ecsops
from deploy_helpers import read_until
from fleet_helpers import services_by_name
from strategy_helpers import pause_hook

from ecsops.sim.scenario import Scenario, bluegreen_scenario
from ecsops.sim.server import SimServer

MIXED = """\
cluster = "demo"
poll-interval = "0"

[[service]]
service = "web"
container-image = ["app=nginx:1.27"]

[[service]]
service = "bg"
container-image = ["app=nginx:1.27"]

[[service]]
service = "lin"
container-image = ["app=nginx:1.27"]

[[service]]
service = "can"
container-image = ["app=nginx:broken"]

[[service]]
cluster = "batch"
service = "api"
container-image = ["app=nginx:1.27"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "release.toml"
    path.write_text(text)
    return path


def item_paths(document: dict[str, Any]) -> dict[str, list[str]]:
    """Each service's states in the order it went through them (from the run's transitions)."""
    paths: dict[str, list[str]] = {}
    for transition in document["transitions"]:
        if transition.get("item"):
            paths.setdefault(transition["item"], [transition["source"]]).append(transition["dest"])
    return paths


def with_bg(**changes: Any) -> Scenario:
    """The bluegreen scenario with its `bg` service changed."""
    scenario = bluegreen_scenario()
    services = [s.model_copy(update=changes) if s.name == "bg" else s for s in scenario.services]
    return scenario.model_copy(update={"services": services})


def quick_bakes() -> Scenario:
    """The bluegreen scenario with one-minute bakes (and LINEAR steps, CANARY bakes): fewer rounds to follow."""
    scenario = bluegreen_scenario()
    quick = {"bg": {"bake_time_minutes": 1}, "lin": {"bake_time_minutes": 1, "linear_step_bake_minutes": 1},
             "can": {"bake_time_minutes": 1, "canary_bake_minutes": 1}}
    services = [s.model_copy(update=quick.get(s.name, {})) for s in scenario.services]
    return scenario.model_copy(update={"services": services})


def test_each_service_follows_its_strategy_and_one_request_reads_every_service_deployment(
    tmp_path: Path, aws_env: SimServer
) -> None:
    aws_env.reset("bluegreen")
    aws_env.reset_counts()
    result = run_ecsops(tmp_path / "s.db", "deploy-fleet", str(write(tmp_path, MIXED)), "--output", "json")
    assert result.returncode == 3, result.stderr
    document = result.json()
    services = services_by_name(document)
    assert {name: s["outcome"] for name, s in services.items()} == {
        "demo/web": "succeeded", "demo/bg": "succeeded", "demo/lin": "succeeded", "demo/can": "rolled_back",
        "batch/api": "succeeded",
    }
    paths = item_paths(document)
    rolling = ["pending", "planned", "snapshotted", "registering", "updating"]
    assert paths["demo/web"] == [*rolling, "waiting", "succeeded"]
    for name in ("demo/bg", "demo/lin"):
        assert paths[name] == [*rolling, "binding", "following", "succeeded"]
    # ECS's circuit breaker rolls the canary back by itself: followed to its end, no StopServiceDeployment.
    assert paths["demo/can"] == [*rolling, "binding", "following", "ecs_rolling_back", "rolled_back"]
    assert "ECS rolled back service deployment" in services["demo/can"]["reason"]
    assert "CannotPullContainerError" in services["demo/can"]["reason"]
    counts = aws_env.counts()
    assert counts["ecs:UpdateService"] == 5 and counts["ecs:RegisterTaskDefinition"] == 5
    assert counts.get("ecs:StopServiceDeployment", 0) == 0
    # Three service deployments followed at once, each round one request for all of them (20 a request); besides,
    # preflight may read one per native service.
    assert counts["ecs:DescribeServiceDeployments"] <= document["poll_rounds"] + 3
    # The rolling services' rounds: one DescribeServices per cluster, besides preflight's one per service.
    assert counts["ecs:DescribeServices"] - 5 <= 2 * document["poll_rounds"]


def test_a_bake_is_polled_as_slowly_in_a_fleet_as_by_a_single_deploy(tmp_path: Path, aws_env: SimServer) -> None:
    """bg bakes 30 minutes: a single deploy looks every 30 s while more than a minute of it is left; so does a
    fleet's round, which then asks ECS nothing for that service in between."""
    aws_env.reset("bluegreen")
    aws_env.reset_counts()
    single = run_ecsops(tmp_path / "a.db", "deploy", "--cluster", "demo", "--service", "bg",
                        "--container-image", "app=nginx:1.27", "--poll-interval", "0")
    assert single.returncode == 0, single.stderr
    by_deploy = aws_env.counts()["ecs:DescribeServiceDeployments"]
    aws_env.reset("bluegreen")
    aws_env.reset_counts()
    text = ('cluster = "demo"\npoll-interval = "0"\n\n'
            '[[service]]\nservice = "bg"\ncontainer-image = ["app=nginx:1.27"]\n')
    fleet = run_ecsops(tmp_path / "b.db", "deploy-fleet", str(write(tmp_path, text)), "--output", "json")
    assert fleet.returncode == 0, fleet.stderr
    by_fleet = aws_env.counts()["ecs:DescribeServiceDeployments"]
    # 30 minutes polled every 5 s would be some 360 requests; every 30 s, some 60.
    assert by_fleet <= by_deploy + 10, (by_fleet, by_deploy)
    assert by_fleet < 100


def test_stop_lets_the_followed_deployments_finish_and_starts_no_other(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset("bluegreen")
    # bg bakes 30 minutes; can fails well before: the second slot frees only when can has rolled back.
    order = ["bg", "can", "web", "lin"]
    blocks = {block.split('service = "')[1].split('"')[0]: block for block in MIXED.split("[[service]]")[1:]}
    text = MIXED.split("[[service]]")[0] + "".join("[[service]]" + blocks[name] for name in [*order, "api"])
    result = run_ecsops(tmp_path / "s.db", "deploy-fleet", str(write(tmp_path, text)), "--on-failure", "stop",
                        "--max-parallel", "2", "--output", "json")
    assert result.returncode == 3, result.stderr
    services = services_by_name(result.json())
    assert {name: s["outcome"] for name, s in services.items()} == {
        "demo/bg": "succeeded", "demo/can": "rolled_back", "demo/web": "skipped", "demo/lin": "skipped",
        "batch/api": "skipped",
    }
    for name in ("demo/web", "demo/lin", "batch/api"):
        assert services[name]["new_task_definition"] is None
        assert "not started: demo/can failed first (--on-failure stop)" in services[name]["reason"]


def test_a_pause_hook_holds_its_service_until_approved_while_the_others_finish(
    tmp_path: Path, aws_env: SimServer
) -> None:
    aws_env.reset(with_bg(bake_time_minutes=1, lifecycle_hooks=[pause_hook()]))
    store = tmp_path / "s.db"
    text = ('cluster = "demo"\n\n[[service]]\nservice = "bg"\ncontainer-image = ["app=nginx:1.27"]\n\n'
            '[[service]]\ncluster = "batch"\nservice = "api"\ncontainer-image = ["app=nginx:1.27"]\n')
    process = start_ecsops(store, "deploy-fleet", str(write(tmp_path, text)), "--run-id", "fleet-pause",
                           "--output", "json")
    try:
        seen = " ".join(read_until(process, "--rollback").split())  # progress lines wrap at 80 columns
        assert "demo/bg: paused at POST_TEST_TRAFFIC_SHIFT: PAUSE hook" in seen
        assert "ecsops approve fleet-pause --service demo/bg --rollback" in seen
        read_until(process, "batch/api: waiting -> succeeded")  # the other service goes on meanwhile
        status = run_ecsops(store, "status", "fleet-pause", "--output", "json")
        assert services_by_name(status.json())["demo/bg"]["state"] == "paused"
        not_fleet = run_ecsops(store, "approve", "fleet-pause", "--service", "demo/nope")
        assert not_fleet.returncode == 2 and "deploys no service demo/nope" in not_fleet.stderr
        approved = run_ecsops(store, "approve", "fleet-pause")  # the one paused service
        assert approved.returncode == 0, approved.stderr
        assert "of demo/bg" in approved.stderr
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    document = json.loads(stdout)
    assert {s["name"]: s["outcome"] for s in document["services"]} == {"demo/bg": "succeeded",
                                                                        "batch/api": "succeeded"}
    assert item_paths(document)["demo/bg"][-3:] == ["paused", "following", "succeeded"]
    assert [note["kind"] for note in document["notes"]] == ["approve"]


BG_ONLY = 'cluster = "demo"\npoll-interval = "0"\n\n[[service]]\nservice = "bg"\ncontainer-image = ["app=nginx:1.27"]\n'
OWN_LIMIT = MIXED.replace('container-image = ["app=nginx:broken"]',
                          'container-image = ["app=nginx:broken"]\nmax-failed-tasks = 1')


def test_our_failure_limit_stops_the_canary_with_stop_service_deployment(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(quick_bakes())
    aws_env.reset_counts()
    result = run_ecsops(tmp_path / "s.db", "deploy-fleet", str(write(tmp_path, OWN_LIMIT)), "--output", "json")
    assert result.returncode == 3, result.stderr
    document = result.json()
    assert item_paths(document)["demo/can"][-3:] == ["following", "stopping", "rolled_back"]
    assert aws_env.counts()["ecs:StopServiceDeployment"] == 1
    assert services_by_name(document)["demo/can"]["outcome"] == "rolled_back"


NATIVE_CRASH_POINTS = [
    "item-checkpoint:binding",  # updated, our service deployment not looked for yet
    "intent:bind_service_deployment:demo/bg",  # found, not recorded
    "call:bind_service_deployment:demo/lin",
    "item-checkpoint:following",  # the first service deployment bound
    "item-checkpoint:stopping",  # the canary's rollback decided, StopServiceDeployment not sent
    "intent:stop_service_deployment:demo/can",
    "call:stop_service_deployment:demo/can",  # sent, not recorded
]


@pytest.mark.parametrize("crash_at", NATIVE_CRASH_POINTS)
def test_killed_while_following_service_deployments_resumes_without_repeating_a_call(
    tmp_path: Path, aws_env: SimServer, crash_at: str
) -> None:
    aws_env.reset(quick_bakes())
    aws_env.reset_counts()
    store = tmp_path / "s.db"
    file = write(tmp_path, OWN_LIMIT)
    killed = run_ecsops(store, "deploy-fleet", str(file), "--run-id", "fleet-n1", ECSOPS_CRASH_AT=crash_at)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    resumed = run_ecsops(store, "resume", "fleet-n1", "--output", "json")
    assert resumed.returncode == 3, resumed.stderr
    document = resumed.json()
    assert {s["name"]: s["outcome"] for s in document["services"]} == {
        "demo/web": "succeeded", "demo/bg": "succeeded", "demo/lin": "succeeded", "demo/can": "rolled_back",
        "batch/api": "succeeded",
    }
    assert document["in_flight"] == []
    counts = aws_env.counts()  # both processes' calls
    assert counts["ecs:RegisterTaskDefinition"] == 5 and counts["ecs:UpdateService"] == 5
    # Never sent twice. Killed before it was sent, the resumed run may find ECS's circuit breaker already rolling
    # the canary back (time went on meanwhile): then it sends nothing (reconciled), or ECS refuses it.
    assert counts.get("ecs:StopServiceDeployment", 0) <= 1
    ecs = aws_env.client("ecs")
    for family in ("web", "bg", "lin", "can", "api"):
        listed = ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
        assert [arn.rsplit("/", 1)[-1] for arn in listed] == [f"{family}:1", f"{family}:2"], family
    steps = {step["name"]: step["status"] for step in document["steps"]}
    assert steps["stop_service_deployment:demo/can"] in ("succeeded", "reconciled", "failed")
    if crash_at.startswith("call:stop_service_deployment"):  # sent before the kill: found done, not sent again
        assert (counts["ecs:StopServiceDeployment"], steps["stop_service_deployment:demo/can"]) == (1, "reconciled")
    assert all(steps[f"bind_service_deployment:demo/{name}"] in ("succeeded", "reconciled")
               for name in ("bg", "lin", "can"))


def test_a_service_waits_for_another_deployment_in_progress_before_it_changes_anything(
    tmp_path: Path, aws_env: SimServer
) -> None:
    aws_env.reset(quick_bakes())
    aws_env.client("ecs").update_service(cluster="demo", service="bg", forceNewDeployment=True)
    text = ('cluster = "demo"\npoll-interval = "0"\n\n[[service]]\nservice = "bg"\n'
            'container-image = ["app=nginx:1.27"]\n\n[[service]]\ncluster = "batch"\nservice = "api"\n'
            'container-image = ["app=nginx:1.27"]\n')
    result = run_ecsops(tmp_path / "s.db", "deploy-fleet", str(write(tmp_path, text)), "--output", "json")
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert item_paths(document)["demo/bg"][:5] == ["pending", "planned", "queued", "planned", "snapshotted"]
    assert "demo/bg: waiting for another deployment to end before deploying" in " ".join(result.stderr.split())
    assert {s["name"]: s["outcome"] for s in document["services"]} == {"demo/bg": "succeeded",
                                                                        "batch/api": "succeeded"}


def test_killed_while_queued_resumes_and_deploys_once(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(quick_bakes())
    aws_env.client("ecs").update_service(cluster="demo", service="bg", forceNewDeployment=True)
    aws_env.reset_counts()
    text = BG_ONLY
    store = tmp_path / "s.db"
    killed = run_ecsops(store, "deploy-fleet", str(write(tmp_path, text)), "--run-id", "fleet-q",
                        ECSOPS_CRASH_AT="item-checkpoint:queued")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = run_ecsops(store, "resume", "fleet-q", "--output", "json")
    assert resumed.returncode == 0, resumed.stderr
    assert item_paths(resumed.json())["demo/bg"][:5] == ["pending", "planned", "queued", "planned", "snapshotted"]
    assert aws_env.counts()["ecs:UpdateService"] == 1 and aws_env.counts()["ecs:RegisterTaskDefinition"] == 1


def test_killed_while_ecs_rolls_back_resumes_to_rolled_back(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(quick_bakes())
    aws_env.reset_counts()
    store = tmp_path / "s.db"
    killed = run_ecsops(store, "deploy-fleet", str(write(tmp_path, MIXED)), "--run-id", "fleet-e",
                        ECSOPS_CRASH_AT="item-checkpoint:ecs_rolling_back")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = run_ecsops(store, "resume", "fleet-e", "--output", "json")
    assert resumed.returncode == 3, resumed.stderr
    document = resumed.json()
    assert item_paths(document)["demo/can"][-3:] == ["following", "ecs_rolling_back", "rolled_back"]
    counts = aws_env.counts()
    assert counts["ecs:UpdateService"] == 5 and counts.get("ecs:StopServiceDeployment", 0) == 0


def test_killed_while_paused_then_approved_resumes_past_the_hook(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(with_bg(bake_time_minutes=1, lifecycle_hooks=[pause_hook()]))
    store = tmp_path / "s.db"
    text = BG_ONLY
    killed = run_ecsops(store, "deploy-fleet", str(write(tmp_path, text)), "--run-id", "fleet-p",
                        ECSOPS_CRASH_AT="item-checkpoint:paused")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    approved = run_ecsops(store, "approve", "fleet-p", "--service", "demo/bg")  # while nobody drives the run
    assert approved.returncode == 0, approved.stderr
    resumed = run_ecsops(store, "resume", "fleet-p", "--output", "json")
    assert resumed.returncode == 0, resumed.stderr
    assert item_paths(resumed.json())["demo/bg"][-3:] == ["paused", "following", "succeeded"]


def test_every_state_and_step_of_a_fleet_service_is_killed_somewhere() -> None:
    """The kill tests cover the service machine: every non-final state reached and every declared step's intent
    and call, so a new state or step cannot be left out of them."""
    from crash_points import ITEM_PLACEHOLDER, required_points
    from test_fleet_crash import CRASH_POINTS as ROLLING_POINTS

    from machines.deploy_fleet import FLEET_DEFINITION, SERVICE_DEFINITION

    elsewhere = {"item-checkpoint:rolled_out",  # test_fleet_crash: rollback-all
                 "item-checkpoint:queued", "item-checkpoint:ecs_rolling_back", "item-checkpoint:paused"}  # above
    covered = set()
    for point in [*ROLLING_POINTS, *NATIVE_CRASH_POINTS, *elsewhere]:
        kind, _, rest = point.partition(":")
        name, _, item = rest.partition(":")
        covered.add(f"{kind}:{name}:{ITEM_PLACEHOLDER}" if item else point)
    assert required_points(SERVICE_DEFINITION, item=True) - covered == set()
    assert required_points(FLEET_DEFINITION) - set(ROLLING_POINTS) == set()


def test_sigterm_while_a_service_is_paused_stops_the_fleet_resumably(tmp_path: Path, aws_env: SimServer) -> None:
    """A real process, a real signal: the fleet stops after its current round (exit 130, `interrupted`), its
    locks kept for `resume`, which later finishes the release after the hook is approved."""
    aws_env.reset(with_bg(bake_time_minutes=1, lifecycle_hooks=[pause_hook()]))
    store = tmp_path / "s.db"
    text = BG_ONLY + '\n[[service]]\ncluster = "batch"\nservice = "api"\ncontainer-image = ["app=nginx:1.27"]\n'
    process = start_ecsops(store, "deploy-fleet", str(write(tmp_path, text)), "--run-id", "fleet-sig")
    try:
        read_until(process, "--rollback")  # bg waits at its hook
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    status = run_ecsops(store, "status", "fleet-sig", "--output", "json").json()
    assert status["status"] == "interrupted"
    assert services_by_name(status)["demo/bg"]["state"] == "paused"
    assert run_ecsops(store, "approve", "fleet-sig").returncode == 0
    resumed = run_ecsops(store, "resume", "fleet-sig", "--output", "json")
    assert resumed.returncode == 0, resumed.stderr
    assert {s["name"]: s["outcome"] for s in resumed.json()["services"]} == {"demo/bg": "succeeded",
                                                                             "batch/api": "succeeded"}
    assert aws_env.counts()["ecs:UpdateService"] == 2
