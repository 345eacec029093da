"""Runners sharing one DynamoDB store, end to end on the simulator with real processes: each runner has its
own HOME (its own default SQLite path), so only the table connects them."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import PROG_NAME, TESTS_DIR, start_process
from deploy_helpers import TARGET, demo_with, revisions
from dynamodb_helpers import STORE_URL, dynamo_counts, make_table, runner
from replace_helpers import fleet_scenario
from test_deploy_crash import ECS_ROLLBACK_PATH, GOOD_PATH, GOOD_POINTS, ROLLBACK_PATH, ROLLBACK_POINTS

from ecsops.sim.scenario import demo_scenario
from ecsops.sim.server import SimServer
from store.dynamodb_codec import item_size

README = TESTS_DIR.parent / "README.md"
DEPLOY = ["deploy", *TARGET, "--poll-interval", "0"]


@pytest.fixture
def team(aws_env: SimServer) -> SimServer:
    """The demo account with the team's table created, as `ecsops store init` leaves it."""
    make_table()
    aws_env.reset_counts()
    return aws_env


def _sqlite_files(*homes: Path) -> list[Path]:
    return [p for home in homes if home.exists() for p in home.rglob("*") if p.suffix in (".db", ".db-wal")]


def _path(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t["source"], t["dest"]) for t in document["transitions"]]


# ---- a run killed on runner A is finished by runner B ------------------------------------------------------
@pytest.mark.parametrize(
    ("crash_at", "image", "path", "updates", "code"),
    [(point, "app=nginx:1.27", GOOD_PATH, 1, 0) for point in GOOD_POINTS]
    + [(point, "app=nginx:broken", ROLLBACK_PATH, 2, 3) for point in ROLLBACK_POINTS]
    + [(point, "app=nginx:broken/ecs", ECS_ROLLBACK_PATH, 1, 3)
       for point in ("checkpoint:ecs_rolling_back", "enter:ecs_rolling_back")],
)
def test_a_deploy_killed_on_runner_a_is_finished_by_runner_b(
    team: SimServer, tmp_path: Path, crash_at: str, image: str, path: list[tuple[str, str]], updates: int, code: int
) -> None:
    if image.endswith("broken"):  # no ECS rollback: ecsops rolls back
        team.reset(demo_with(circuit_breaker=True, rollback=False))
        make_table()
    image = image.removesuffix("/ecs")  # the demo's circuit breaker rolls back by itself
    home_a, home_b = tmp_path / "runner-a", tmp_path / "runner-b"
    killed = runner(home_a, *DEPLOY, "--container-image", image, "--run-id", "r1", ECSOPS_CRASH_AT=crash_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    resumed = runner(home_b, "resume", "r1", "--output", "json")
    assert resumed.returncode == code, resumed.stderr
    document = resumed.json()
    assert _path(document) == path
    assert [t["seq"] for t in document["transitions"]] == list(range(1, len(path) + 1))
    assert document["in_flight"] == []
    counts = team.counts()
    assert counts["ecs:RegisterTaskDefinition"] == 1
    assert counts["ecs:UpdateService"] == updates
    assert len(revisions(team)) == 2
    assert _sqlite_files(home_a, home_b) == []


@pytest.mark.parametrize(
    "crash_at", ["checkpoint:replacing", "intent:detach:FIRST", "item-checkpoint:draining", "call:terminate:FIRST"]
)
def test_a_replacement_killed_on_runner_a_is_finished_by_runner_b(
    aws_env: SimServer, tmp_path: Path, crash_at: str
) -> None:
    seeded = aws_env.reset(fleet_scenario(instances=3, out_of_date=2)).asgs["prod-asg"]
    make_table()
    first = seeded.out_of_date_instances[0]
    args = ["replace-instances", "--asg", "prod-asg", "--cluster", "prod", "--poll-interval", "0", "--batch-size", "2"]
    killed = runner(tmp_path / "runner-a", *args, "--run-id", "rep", ECSOPS_CRASH_AT=crash_at.replace("FIRST", first))
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    resumed = runner(tmp_path / "runner-b", "resume", "rep", "--output", "json")
    assert resumed.returncode == 0, resumed.stderr
    document = resumed.json()
    assert {i["instance_id"]: i["state"] for i in document["instances"]} == {
        instance_id: "terminated" for instance_id in seeded.out_of_date_instances
    }
    counts = aws_env.counts()
    assert counts["autoscaling:DetachInstances"] == 2
    assert counts["ec2:TerminateInstances"] == 2
    per_item = [(t["item"], t["dest"]) for t in document["transitions"] if t["item"]]
    assert len(per_item) == len(set(per_item)), "no instance passes a state twice"


# ---- two runners at once ---------------------------------------------------------------------------------
def test_two_runners_deploying_one_service_at_once_exactly_one_exits_5(team: SimServer, tmp_path: Path) -> None:
    # The real clock, polling every 0.3 s: the deploy that gets the lock holds it for seconds, while the
    # other runner (started at the same moment) reaches its acquisition.
    env = dict(os.environ, ECSOPS_STORE=STORE_URL, PYTHONPATH=str(TESTS_DIR))
    env.pop("ECSOPS_CLOCK")
    processes = []
    for name in ("a", "b"):
        home = tmp_path / f"runner-{name}"
        home.mkdir()
        args = ["deploy", *TARGET, "--container-image", "app=nginx:1.27", "--poll-interval", "0.3",
                "--run-id", f"at-once-{name}"]
        processes.append(start_process("ecsops", [PROG_NAME, *args], {**env, "HOME": str(home)}))
    outcomes = [(p.wait(timeout=120), p.communicate()[1]) for p in processes]
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, 5], outcomes
    loser = next(stderr for code, stderr in outcomes if code == 5)
    assert re.search(r"locked by run at-once-[ab]", loser)
    assert team.counts()["ecs:UpdateService"] == 1


# ---- a third runner sees everything ----------------------------------------------------------------------
def test_runs_and_status_from_a_third_runner_show_every_run_with_its_transitions(
    team: SimServer, tmp_path: Path
) -> None:
    assert runner(tmp_path / "a", *DEPLOY, "--container-image", "app=nginx:1.27", "--run-id", "good").returncode == 0
    assert runner(tmp_path / "b", *DEPLOY, "--container-image", "app=nginx:broken", "--run-id", "bad").returncode == 3
    killed = runner(tmp_path / "a", *DEPLOY, "--container-image", "app=nginx:1.28", "--run-id", "cut",
                    ECSOPS_CRASH_AT="enter:waiting")
    assert killed.returncode == -signal.SIGKILL

    listed = runner(tmp_path / "c", "runs", "--output", "json")
    assert listed.returncode == 0, listed.stderr
    documents = {d["run_id"]: d for d in listed.json()}
    assert list(documents) == ["cut", "bad", "good"]
    assert _path(documents["good"]) == GOOD_PATH
    assert documents["bad"]["status"] == "rolled_back" and len(documents["bad"]["transitions"]) == 6
    assert documents["cut"]["status"] == "running" and documents["cut"]["state"] == "waiting"
    assert {s["name"] for s in documents["good"]["steps"]} == {"register_task_definition", "update_service"}

    status = runner(tmp_path / "c", "status", "cut", "--output", "json")
    assert status.returncode == 0
    assert _path(status.json()) == GOOD_PATH[:4]
    text = runner(tmp_path / "c", "status", "good")
    assert "succeeded" in text.stdout and "waiting" in text.stdout
    filtered = runner(tmp_path / "c", "runs", "--status", "rolled_back", "--output", "json")
    assert [d["run_id"] for d in filtered.json()] == ["bad"]
    assert _sqlite_files(tmp_path / "a", tmp_path / "b", tmp_path / "c") == []


def test_a_good_deploy_costs_at_most_20_dynamodb_requests(team: SimServer, tmp_path: Path) -> None:
    done = runner(tmp_path, *DEPLOY, "--container-image", "app=nginx:1.27")
    assert done.returncode == 0, done.stderr
    counts = dynamo_counts(team)
    assert sum(counts.values()) <= 20, counts
    assert "Scan" not in counts


def test_a_run_killed_on_one_runner_is_abandoned_from_another_and_the_service_is_free_again(
    team: SimServer, tmp_path: Path
) -> None:
    killed = runner(tmp_path / "a", *DEPLOY, "--container-image", "app=nginx:1.27", "--run-id", "cut",
                    ECSOPS_CRASH_AT="enter:waiting")
    assert killed.returncode == -signal.SIGKILL
    abandoned = runner(tmp_path / "c", "abandon", "cut", "--reason", "checked by hand", "--output", "json")
    assert abandoned.returncode == 0, abandoned.stderr
    assert (abandoned.json()["status"], abandoned.json()["reason"]) == ("abandoned", "checked by hand")
    again = runner(tmp_path / "b", *DEPLOY, "--container-image", "app=nginx:1.28", "--run-id", "next")
    assert again.returncode == 0, again.stderr
    assert runner(tmp_path / "a", "resume", "cut").returncode == 1  # abandoned stays abandoned


def test_a_task_definition_near_ecs_64_kb_limit_deploys_with_every_item_far_below_400_kb(
    aws_env: SimServer, tmp_path: Path
) -> None:
    scenario = demo_scenario()
    web = scenario.task_definitions[0]
    app = web.containers[0].model_copy(
        update={"environment": {f"SETTING_{i:03d}": f"value-{i}-" + "x" * 70 for i in range(540)}}
    )
    aws_env.reset(scenario.model_copy(update={"task_definitions": [web.model_copy(update={"containers": [app]})]}))
    make_table()
    size = len(json.dumps(aws_env.client("ecs").describe_task_definition(taskDefinition="web")["taskDefinition"]))
    assert 56 * 1024 < size < 64 * 1024
    done = runner(tmp_path, *DEPLOY, "--container-image", "app=nginx:1.27", "--output", "json")
    assert done.returncode == 0, done.stderr
    assert _path(done.json()) == GOOD_PATH
    items = aws_env.client("dynamodb").scan(TableName="ecsops-runs")["Items"]  # the test looks; ecsops never scans
    assert max(item_size(item) for item in items) < 100 * 1024


# ---- DynamoDB faults during a deploy ---------------------------------------------------------------------
def test_a_deploy_through_throttling_and_a_lost_write_answer_makes_each_change_once(
    team: SimServer, tmp_path: Path
) -> None:
    for fault in (
        {"service": "dynamodb", "operation": "TransactWriteItems", "kind": "throttling", "nth": 2, "count": 3},
        {"service": "dynamodb", "operation": "TransactWriteItems", "kind": "http500_after", "nth": 6},
        {"service": "dynamodb", "operation": "TransactWriteItems", "kind": "http500_after", "nth": 9},
        {"service": "dynamodb", "operation": "GetItem", "kind": "throttling", "nth": 3, "count": 2},
        {"service": "dynamodb", "operation": "Query", "kind": "http500", "nth": 1},
    ):
        team.add_fault(fault)
    done = runner(tmp_path / "a", *DEPLOY, "--container-image", "app=nginx:1.27", "--output", "json")
    assert done.returncode == 0, done.stderr
    document = done.json()
    assert _path(document) == GOOD_PATH
    assert [s["status"] for s in document["steps"]] == ["succeeded", "succeeded"]
    delivered = {(f.operation, f.kind) for f in team.faults.delivered}
    assert ("TransactWriteItems", "http500_after") in delivered and ("TransactWriteItems", "throttling") in delivered
    counts = team.counts()
    assert counts["ecs:RegisterTaskDefinition"] == 1
    assert counts["ecs:UpdateService"] == 1
    assert len(revisions(team)) == 2


# ---- store init and a store that cannot be used -------------------------------------------------------------
def test_store_init_creates_then_verifies_and_says_so(aws_env: SimServer, tmp_path: Path) -> None:
    first = runner(tmp_path, "store", "init", "--store", STORE_URL)
    assert first.returncode == 0, first.stderr
    assert "created table ecsops-runs in us-east-1: on-demand billing, deletion protection on" in first.stdout
    assert "turned point-in-time recovery on" in first.stdout
    second = runner(tmp_path, "store", "init")
    assert second.returncode == 0
    assert "exists with the expected key and indexes" in second.stdout and "created" not in second.stdout
    assert _sqlite_files(tmp_path) == []


def test_store_init_on_a_sqlite_path_creates_the_file(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "runs.db"
    made = runner(tmp_path, "store", "init", "--store", str(path))
    assert made.returncode == 0, made.stderr
    assert path.is_file() and f"SQLite store {path} is ready" in made.stdout


def test_commands_on_a_missing_table_exit_2_naming_store_init(aws_env: SimServer, tmp_path: Path) -> None:
    for args in (("runs",), ("status", "r1"), (*DEPLOY, "--container-image", "app=nginx:1.27")):
        result = runner(tmp_path, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "does not exist; create it with `ecsops store init --store dynamodb://ecsops-runs`" in result.stderr
    assert "ecs:UpdateService" not in aws_env.counts()
    assert _sqlite_files(tmp_path) == []


def test_a_table_of_another_schema_exits_2_naming_what_differs(aws_env: SimServer, tmp_path: Path) -> None:
    aws_env.client("dynamodb").create_table(
        TableName="ecsops-runs", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )
    init = runner(tmp_path, "store", "init")
    assert init.returncode == 2
    assert "its key is id (HASH), ecsops needs pk (HASH) and sk (RANGE)" in init.stderr
    assert runner(tmp_path, "runs").returncode == 2


def test_access_denied_exits_2_naming_the_action_and_the_table(team: SimServer, tmp_path: Path) -> None:
    team.add_fault({"service": "dynamodb", "operation": "GetItem", "kind": "access_denied"})
    result = runner(tmp_path, *DEPLOY, "--container-image", "app=nginx:1.27")
    assert result.returncode == 2
    assert "not allowed to call dynamodb:GetItem on table ecsops-runs (us-east-1)" in result.stderr
    assert "ecs:UpdateService" not in team.counts()


def test_a_bad_store_url_exits_2_saying_what_to_fix(aws_env: SimServer, tmp_path: Path) -> None:
    result = runner(tmp_path, "runs", store="dynamodb://ecsops-runs?regoin=eu-west-1")
    assert result.returncode == 2
    assert result.stderr.startswith("error: store 'dynamodb://ecsops-runs?regoin=eu-west-1': unknown option")


# ---- store copy ----------------------------------------------------------------------------------------
def test_store_copy_moves_whole_runs_both_ways_and_is_idempotent(team: SimServer, tmp_path: Path) -> None:
    local = tmp_path / "alice.db"
    alice = {"ECSOPS_STORE": str(local)}
    home = tmp_path / "alice"
    assert runner(home, *DEPLOY, "--container-image", "app=nginx:1.27", "--run-id", "mine", **alice).returncode == 0
    assert runner(home, *DEPLOY, "--container-image", "app=nginx:broken", "--run-id", "mine-2", **alice).returncode == 3
    before = runner(home, "runs", "--output", "json", **alice).json()

    up = runner(home, "store", "copy", "--from", str(local), "--to", STORE_URL)
    assert up.returncode == 0, up.stderr
    copied = re.search(r"copied 2 run\(s\) \(11 transitions, 4 steps, 0 items, (\d+) messages\)", up.stdout)
    assert copied is not None, up.stdout
    def journals(**store: str) -> list[Any]:
        return [runner(home, "status", run_id, "--output", "json", **store).json()["messages"]
                for run_id in ("mine", "mine-2")]

    said = journals(**alice)
    assert int(copied.group(1)) == sum(len(messages) for messages in said) > 0
    assert journals() == said  # the team's table holds the same journals
    again = runner(home, "store", "copy", "--from", str(local), "--to", STORE_URL)
    assert "copied 0 run(s)" in again.stdout and "2 already there" in again.stdout
    assert runner(home, "runs", "--output", "json").json() == before

    back = tmp_path / "audit.db"
    down = runner(home, "store", "copy", "--from", STORE_URL, "--to", str(back))
    assert down.returncode == 0 and "copied 2 run(s)" in down.stdout
    assert runner(home, "runs", "--output", "json", ECSOPS_STORE=str(back)).json() == before


def test_store_copy_skips_a_run_still_in_progress(team: SimServer, tmp_path: Path) -> None:
    killed = runner(tmp_path / "a", *DEPLOY, "--container-image", "app=nginx:1.27", "--run-id", "live",
                    ECSOPS_CRASH_AT="enter:waiting")
    assert killed.returncode == -signal.SIGKILL
    copied = runner(tmp_path / "a", "store", "copy", "--from", STORE_URL, "--to", str(tmp_path / "copy.db"))
    assert copied.returncode == 0
    assert "1 in progress skipped: live" in copied.stdout


def test_store_copy_refuses_a_missing_source_and_the_same_store(tmp_path: Path) -> None:
    missing = runner(tmp_path, "store", "copy", "--from", str(tmp_path / "nope.db"), "--to", STORE_URL)
    assert missing.returncode == 2 and "no SQLite store at" in missing.stderr
    same = runner(tmp_path, "store", "copy", "--from", STORE_URL, "--to", STORE_URL)
    assert same.returncode == 2 and "the same store" in same.stderr


# ---- the README ---------------------------------------------------------------------------------------
def team_block() -> list[tuple[dict[str, str], list[str], str]]:
    """(environment assignments, argv, expectation) of each `$` line of the README's team set-up."""
    text = README.read_text()
    block = text.split("<!-- readme-team:start -->")[1].split("<!-- readme-team:end -->")[0]
    commands = []
    for line in block.splitlines():
        if not line.startswith("$ "):
            continue
        command, _, comment = line[2:].partition("  #")
        words = shlex.split(command)
        assignments = {}
        while "=" in words[0] and not words[0].startswith("-"):
            name, _, value = words.pop(0).partition("=")
            assignments[name] = value
        commands.append((assignments, words, comment.strip()))
    return commands


@pytest.mark.process
def test_readme_team_set_up_runs_as_shown(aws_env: SimServer, tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    commands = team_block()
    assert [argv[:2] for _, argv, _ in commands][:2] == [["ecsops", "store"]] * 2
    last: subprocess.CompletedProcess[str] | None = None
    for assignments, argv, comment in commands:
        env = dict(os.environ)
        env.pop("ECSOPS_STORE", None)
        env.update({k: v.replace("/tmp/", f"{tmp_path}/") for k, v in assignments.items()})
        args = [a.replace("/tmp/", f"{tmp_path}/") for a in argv[1:]]
        Path(env.get("HOME", str(tmp_path))).mkdir(parents=True, exist_ok=True)
        last = subprocess.run([str(bin_dir / argv[0]), *args], capture_output=True, text=True, env=env, timeout=120)
        expected = -signal.SIGKILL if comment == "killed" else 0
        assert last.returncode == expected, f"README: `{shlex.join(argv)}` exited {last.returncode}\n{last.stderr}"
    assert last is not None
    copied = json.loads(last.stdout)
    assert [d["run_id"] for d in copied] == ["team-1"] and copied[0]["status"] == "succeeded"
    assert _path(copied[0]) == GOOD_PATH
    assert aws_env.counts()["ecs:UpdateService"] == 1
    assert _sqlite_files(*(tmp_path / f"runner-{n}" for n in "ab")) == []


def test_readme_iam_policy_covers_every_dynamodb_action_the_team_flow_used(team: SimServer, tmp_path: Path) -> None:
    text = README.read_text()
    policy = json.loads(text.split("The DynamoDB store (every runner")[1].split("```json")[1].split("```")[0])
    allowed = {action.split(":", 1)[1] for action in policy["Statement"][0]["Action"]}
    assert runner(tmp_path, *DEPLOY, "--container-image", "app=nginx:1.27", "--run-id", "p1").returncode == 0
    assert runner(tmp_path, *DEPLOY, "--container-image", "app=nginx:broken", "--run-id", "p2").returncode == 3
    assert runner(tmp_path, "runs").returncode == 0
    assert runner(tmp_path, "status", "p1").returncode == 0
    assert runner(tmp_path, "abandon", "p2").returncode == 2  # already finished: refused, nothing written
    (tmp_path / "x.db").unlink(missing_ok=True)
    assert runner(tmp_path, "store", "copy", "--from", STORE_URL, "--to", str(tmp_path / "x.db")).returncode == 0
    assert runner(tmp_path, "store", "copy", "--from", str(tmp_path / "x.db"), "--to", STORE_URL).returncode == 0
    used = set(dynamo_counts(team))
    # TransactWriteItems is authorised per action inside it.
    assert used - {"TransactWriteItems"} <= allowed, used - allowed
    assert {"PutItem", "UpdateItem", "ConditionCheckItem"} <= allowed
