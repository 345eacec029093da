"""deploy-fleet on the simulator: a fleet of services on two clusters, one poll round per interval, one verdict."""

from __future__ import annotations

import signal
from pathlib import Path

from cli_helpers import run_ecsops
from dynamodb_helpers import STORE_URL, make_table
from fleet_helpers import (
    NO_PAUSE,
    deploy_fleet,
    fleet_file,
    fleet_scenario,
    revisions_of,
    service_names,
    services_by_name,
    task_definition_of,
)

from ecsops.sim.server import SimServer


def test_a_good_fleet_deploys_every_service_once(tmp_path: Path, aws_env: SimServer) -> None:
    scenario = fleet_scenario(12)
    aws_env.reset(scenario)
    file = fleet_file(tmp_path / "fleet.toml", scenario, top="poll-interval = \"0\"")
    aws_env.reset_counts()
    result = deploy_fleet(tmp_path / "s.db", file, "--output", "json")
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert document["status"] == "succeeded", document["reason"]
    services = services_by_name(document)
    assert len(services) == 12
    assert {s["outcome"] for s in services.values()} == {"succeeded"}
    counts = aws_env.counts()
    assert counts["ecs:RegisterTaskDefinition"] == 12
    assert counts["ecs:UpdateService"] == 12
    # Preflight's reads are the run's snapshot, as for a single deploy: each task definition read once, the
    # services ten a request per cluster, and after that only the rounds' polls (two clusters, one request each).
    assert counts["ecs:DescribeTaskDefinition"] == 12
    rounds = document["poll_rounds"]
    assert counts["ecs:DescribeServices"] <= 2 + 2 * (rounds - 1), (counts["ecs:DescribeServices"], rounds)
    for spec in scenario.services:
        assert task_definition_of(aws_env, spec.cluster, spec.name) == f"{spec.name}:2"



# ---- what a person reads afterwards: status, runs --target ---------------------------------------------------
def test_status_of_a_fleet_run_shows_every_service_its_state_and_revisions(tmp_path: Path, aws_env: SimServer) -> None:
    scenario = fleet_scenario(12)
    aws_env.reset(scenario)
    file = fleet_file(tmp_path / "fleet.toml", scenario, broken=["svc05"], top=NO_PAUSE)
    store = tmp_path / "s.db"
    assert deploy_fleet(store, file, "--run-id", "fleet-7").returncode == 3

    shown = run_ecsops(store, "status", "fleet-7")

    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "fleet-7" in text and "deploy-fleet" in text and "rolled_back" in text
    table = text[text.index("\nservices\n"):text.index("\ntimeline\n")]
    rows = {line.split()[0]: line.split() for line in table.splitlines()[2:] if line.startswith("  ") and
            "/" in line.split()[0]}
    assert list(rows) == service_names(scenario)  # in the file's order
    for spec in scenario.services:
        row = rows[f"{spec.cluster}/{spec.name}"]
        assert row[1] == ("rolled_back" if spec.name == "svc05" else "succeeded"), row
        assert row[2:5] == [f"{spec.name}:1", "->", f"{spec.name}:2"], row
    # The failing service's reason is shown under its row.
    assert "CannotPullContainerError" in table
    assert table.index("CannotPullContainerError") > table.index("demo/svc05")
    assert table.index("CannotPullContainerError") < table.index("batch/svc06")


def _run_ids(listing: str) -> list[str]:
    """The RUN ID column of `ecsops runs` (text)."""
    lines = listing.strip().splitlines()
    assert lines and lines[0].startswith("RUN ID"), listing
    return [line.split()[0] for line in lines[1:] if line.strip()]


def test_runs_target_lists_the_fleet_run_that_touched_a_service(tmp_path: Path, aws_env: SimServer) -> None:
    scenario = fleet_scenario(8)
    aws_env.reset(scenario)
    store = tmp_path / "s.db"
    fleet = scenario.model_copy(update={"services": scenario.services[:6]})  # svc01..svc06
    assert deploy_fleet(store, fleet_file(tmp_path / "fleet.toml", fleet, top=NO_PAUSE), "--run-id",
                        "fleet-1").returncode == 0
    single = run_ecsops(store, "deploy", "--cluster", "demo", "--service", "svc07", "--container-image",
                        "app=nginx:1.27", "--poll-interval", "0", "--run-id", "single-1")
    assert single.returncode == 0, single.stderr

    def runs(target: str) -> list[str]:
        listed = run_ecsops(store, "runs", "--target", target)
        assert listed.returncode == 0, listed.stderr
        return [] if listed.stdout.strip() == "no runs recorded" else _run_ids(listed.stdout)

    for typed in ("demo/svc03", "batch/svc06", "ecs:demo/svc03", "ecs:123456789012:us-east-1:demo/svc03"):
        assert runs(typed) == ["fleet-1"], typed
    assert runs("demo/svc07") == ["single-1"]
    assert runs("batch/svc08") == []  # a service of the account the fleet did not deploy
    assert runs("batch/svc03") == []  # svc03 is on demo
    assert runs("demo/svc0") == []  # names match whole, not as prefixes


# ---- the team's store ---------------------------------------------------------------------------------------
def test_a_fleet_on_the_dynamodb_store_deploys_and_resumes_after_a_kill(tmp_path: Path, aws_env: SimServer) -> None:
    # Four services (two per cluster): each DynamoDB request costs the simulator some 25 ms, a fleet's run
    # makes about 30 per service.
    scenario = fleet_scenario(4)
    aws_env.reset(scenario)
    make_table()
    file = fleet_file(tmp_path / "fleet.toml", scenario, broken=["svc03"], top=NO_PAUSE)
    unused = tmp_path / "unused.db"  # ECSOPS_STORE below names the table
    aws_env.reset_counts()

    killed = deploy_fleet(unused, file, "--run-id", "team-fleet", ECSOPS_STORE=STORE_URL,
                          ECSOPS_CRASH_AT="item-checkpoint:waiting")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    resumed = run_ecsops(unused, "resume", "team-fleet", "--output", "json", ECSOPS_STORE=STORE_URL)

    assert resumed.returncode == 3, resumed.stderr
    document = resumed.json()
    assert document["status"] == "rolled_back"
    services = services_by_name(document)
    assert {name: s["outcome"] for name, s in services.items()} == {
        name: "rolled_back" if name == "demo/svc03" else "succeeded" for name in service_names(scenario)}
    counts = aws_env.counts()
    assert (counts["ecs:RegisterTaskDefinition"], counts["ecs:UpdateService"]) == (4, 5)
    assert counts.get("dynamodb:PutItem", 0) + counts.get("dynamodb:TransactWriteItems", 0) + counts.get(
        "dynamodb:UpdateItem", 0) > 0  # the run was kept in the table
    assert not unused.exists()
    for spec in scenario.services:
        assert revisions_of(aws_env, spec.name) == [f"{spec.name}:1", f"{spec.name}:2"]
    # Another runner reads it from the table: status and the per-service listing.
    shown = run_ecsops(tmp_path / "elsewhere.db", "status", "team-fleet", "--output", "json", ECSOPS_STORE=STORE_URL)
    assert shown.returncode == 0, shown.stderr
    assert services_by_name(shown.json()) == services
    assert _run_ids(run_ecsops(unused, "runs", "--target", "demo/svc03", ECSOPS_STORE=STORE_URL).stdout) == [
        "team-fleet"]


def test_preflight_reads_the_services_ten_a_request_per_cluster(tmp_path: Path, aws_env: SimServer) -> None:
    scenario = fleet_scenario(24)  # 12 services on each of two clusters
    aws_env.reset(scenario)
    file = fleet_file(tmp_path / "fleet.toml", scenario, top=NO_PAUSE)
    aws_env.reset_counts()
    result = deploy_fleet(tmp_path / "s.db", file, "--dry-run")
    assert result.returncode == 0, result.stderr
    counts = aws_env.counts()
    assert counts["ecs:DescribeServices"] == 4  # ceil(12 / 10) for each cluster, not one per service
    assert counts["ecs:DescribeTaskDefinition"] == 24
    assert aws_env.mutating_calls() == {}


def test_each_new_revision_is_tagged_with_the_run_and_its_service_in_a_value_aws_takes(
    tmp_path: Path, aws_env: SimServer
) -> None:
    """The tag finds a revision registered before a crash; per service, so two services of one family never take
    each other's. AWS's tag values take letters, digits, spaces and + - = . _ : / @ only."""
    import re

    scenario = fleet_scenario(2)
    aws_env.reset(scenario)
    file = fleet_file(tmp_path / "fleet.toml", scenario, top=NO_PAUSE)
    assert deploy_fleet(tmp_path / "s.db", file, "--run-id", "release-7").returncode == 0
    ecs = aws_env.client("ecs")
    values = []
    for family in ("svc01", "svc02"):
        tags = ecs.describe_task_definition(taskDefinition=f"{family}:2", include=["TAGS"])["tags"]
        values += [tag["value"] for tag in tags if tag["key"] == "ecsops:run-id"]
    assert values == ["release-7/0", "release-7/1"]
    assert all(re.fullmatch(r"[\w\s+=.:/@-]{1,256}", value) for value in values)
