"""deploy-fleet's failure policies on a 12-service fleet over two clusters with one failing image: each service's
outcome, the run's status and exit code, what AWS was asked per service; --max-parallel; a poll round's cost."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fleet_helpers import (
    NO_PAUSE,
    deploy_fleet,
    deployment_ids,
    deployments_by_service,
    desired_count_of,
    fleet_file,
    fleet_scenario,
    item_paths,
    most_rolling_at_once,
    revisions_of,
    service_names,
    services_by_name,
    task_definition_of,
)

from ecsops.sim.scenario import ForeignUpdate, Scenario
from ecsops.sim.server import SimServer

FAILING = "demo/svc05"  # svc05 runs on `demo` (odd services on demo, even ones on batch)


def _fleet(tmp_path: Path, sim: SimServer, *args: str, scenario: Scenario | None = None,
           broken: tuple[str, ...] = ("svc05",), top: str = NO_PAUSE) -> tuple[int, dict[str, Any], dict[str, int],
                                                                          set[str], Scenario]:
    """Deploy the fleet (json); its exit code, run document, AWS counts, and the deployments seeded before it."""
    scenario = scenario or fleet_scenario(12)
    sim.reset(scenario)
    seeded = deployment_ids(sim)
    file = fleet_file(tmp_path / "fleet.toml", scenario, broken=broken, top=top)
    sim.reset_counts()
    result = deploy_fleet(tmp_path / "s.db", file, "--output", "json", *args)
    counts = sim.counts()
    assert result.stdout, result.stderr
    return result.returncode, result.json(), counts, seeded, scenario


def _outcomes(document: dict[str, Any]) -> dict[str, str]:
    return {name: entry["outcome"] for name, entry in services_by_name(document).items()}


def _assert_aws_per_service(sim: SimServer, scenario: Scenario, document: dict[str, Any], counts: dict[str, int],
                            seeded: set[str], *, desired_before: int = 2) -> None:
    """What each service's outcome means on AWS: its family's revisions, the deployments made on it (one per
    UpdateService), where it stands now; the run's RegisterTaskDefinition and UpdateService totals add up."""
    services = services_by_name(document)
    deployments = deployments_by_service(sim, seeded)
    steps = {step["name"]: step["status"] for step in document["steps"]}
    registered = updated = 0
    for spec in scenario.services:
        name, family = f"{spec.cluster}/{spec.name}", spec.name
        entry = services[name]
        outcome = entry["outcome"]
        revisions = revisions_of(sim, family)
        made = deployments.get(name, [])
        now = task_definition_of(sim, spec.cluster, spec.name)
        if outcome == "succeeded":
            assert (revisions, made, now) == ([f"{family}:1", f"{family}:2"], [f"{family}:2"], f"{family}:2"), name
            assert steps.keys() & {f"update_service:{name}", f"rollback_update_service:{name}"} == {
                f"update_service:{name}"}, name
        elif outcome == "rolled_back":
            assert (revisions, made, now) == (
                [f"{family}:1", f"{family}:2"], [f"{family}:2", f"{family}:1"], f"{family}:1"), name
            assert desired_count_of(sim, spec.cluster, spec.name) == desired_before, name
            assert entry["rollback_deployment_id"], name
            assert steps[f"rollback_update_service:{name}"] == "succeeded", name
        elif outcome == "skipped":
            assert (revisions, made, now) == ([f"{family}:1"], [], f"{family}:1"), name
            assert desired_count_of(sim, spec.cluster, spec.name) == desired_before, name
            assert not steps.keys() & {f"register_task_definition:{name}", f"update_service:{name}"}, name
            assert entry["new_task_definition"] is None and entry["deployment_id"] is None, name
        else:
            raise AssertionError(f"{name}: unexpected outcome {outcome}")
        if outcome != "skipped":
            assert str(entry["new_task_definition"]).endswith(f"/{family}:2"), name
            assert str(entry["previous_task_definition"]).endswith(f"/{family}:1"), name
        registered += len(revisions) - 1
        updated += len(made)
    assert counts.get("ecs:RegisterTaskDefinition", 0) == registered
    assert counts.get("ecs:UpdateService", 0) == updated


def test_rollback_failed_rolls_back_the_failing_service_only(tmp_path: Path, aws_env: SimServer) -> None:
    code, document, counts, seeded, scenario = _fleet(tmp_path, aws_env)

    assert (code, document["status"]) == (3, "rolled_back"), document["reason"]
    assert document["on_failure"] == "rollback-failed"
    outcomes = _outcomes(document)
    assert outcomes == {name: "rolled_back" if name == FAILING else "succeeded" for name in service_names(scenario)}
    assert FAILING in document["reason"]
    assert "CannotPullContainerError" in services_by_name(document)[FAILING]["reason"]
    _assert_aws_per_service(aws_env, scenario, document, counts, seeded)
    assert (counts["ecs:RegisterTaskDefinition"], counts["ecs:UpdateService"]) == (12, 13)


def test_rollback_all_takes_every_changed_service_back_to_its_snapshot(tmp_path: Path, aws_env: SimServer) -> None:
    # The file also raises each service's desired count (2 -> 3): going back restores the count as well.
    code, document, counts, seeded, scenario = _fleet(
        tmp_path, aws_env, "--on-failure", "rollback-all", top=f"{NO_PAUSE}\ndesired-count = 3")

    assert (code, document["status"]) == (3, "rolled_back"), document["reason"]
    outcomes = _outcomes(document)
    assert set(outcomes.values()) == {"rolled_back"}, outcomes
    paths = item_paths(document)
    # Some good services had finished their deployment (rolled out) before the fleet took them back; the others
    # were taken back while their deployment was in progress.
    rolled_out_first = {name for name, path in paths.items() if "rolled_out" in path}
    assert rolled_out_first, paths
    for name in set(service_names(scenario)) - {FAILING}:
        end = ["rolled_out", "rolling_back", "rolled_back"] if name in rolled_out_first else [
            "waiting", "rolling_back", "rolled_back"]
        assert paths[name][-3:] == end, (name, paths[name])
        assert "rolled back with the fleet" in str(services_by_name(document)[name]["reason"]), name
    assert "rolled_out" not in paths[FAILING]
    _assert_aws_per_service(aws_env, scenario, document, counts, seeded, desired_before=2)
    assert (counts["ecs:RegisterTaskDefinition"], counts["ecs:UpdateService"]) == (12, 24)


def test_rollback_all_names_the_service_that_failed_as_the_cause(tmp_path: Path, aws_env: SimServer) -> None:
    code, document, _, _, scenario = _fleet(tmp_path, aws_env, "--on-failure", "rollback-all",
                                            top=f"{NO_PAUSE}\ndesired-count = 3")

    assert code == 3
    for name, entry in services_by_name(document).items():
        if name != FAILING:
            assert f"rolled back with the fleet: {FAILING} failed" in str(entry["reason"]), (name, entry["reason"])
    for other in set(service_names(scenario)) - {FAILING}:
        assert f"{other} failed" not in document["reason"], document["reason"]


def test_rollback_all_skips_the_services_not_changed_yet(tmp_path: Path, aws_env: SimServer) -> None:
    code, document, counts, seeded, scenario = _fleet(
        tmp_path, aws_env, "--on-failure", "rollback-all", "--max-parallel", "3")

    assert (code, document["status"]) == (3, "rolled_back"), document["reason"]
    outcomes = _outcomes(document)
    assert set(outcomes.values()) == {"rolled_back", "skipped"}, outcomes
    assert outcomes[FAILING] == "rolled_back"
    # Nothing after the failing one had started by then: svc01-svc06 changed, the others never did.
    names = service_names(scenario)
    assert [outcomes[name] for name in names] == ["rolled_back"] * 6 + ["skipped"] * 6, outcomes
    for name in names[6:]:
        assert item_paths(document)[name] == ["pending", "skipped"]
        assert FAILING in str(services_by_name(document)[name]["reason"])
    _assert_aws_per_service(aws_env, scenario, document, counts, seeded)


def test_stop_starts_nothing_after_the_first_failure_and_finishes_what_is_in_flight(
    tmp_path: Path, aws_env: SimServer
) -> None:
    code, document, counts, seeded, scenario = _fleet(tmp_path, aws_env, "--on-failure", "stop",
                                                      "--max-parallel", "3")

    outcomes = _outcomes(document)
    names = service_names(scenario)
    paths = item_paths(document)
    # Replayed from the transitions: which services had started when the failing one was found failed.
    started_before_failure: set[str] = set()
    for transition in sorted(document["transitions"], key=lambda t: t["seq"]):
        if transition["item"] == FAILING and transition["dest"] == "rolling_back":
            break
        if transition["item"] is not None and transition["source"] == "pending":
            started_before_failure.add(transition["item"])
    assert FAILING in started_before_failure
    assert started_before_failure < set(names)  # some had not started: --max-parallel 3
    for name in names:
        if name == FAILING:
            assert outcomes[name] == "rolled_back"
        elif name in started_before_failure:
            assert outcomes[name] == "succeeded", (name, paths[name])  # in flight: finished
        else:
            assert outcomes[name] == "skipped", (name, paths[name])
            assert paths[name] == ["pending", "skipped"]
    assert [outcomes[name] for name in names] == (
        ["succeeded"] * 4 + ["rolled_back"] + ["succeeded"] + ["skipped"] * 6), outcomes
    assert (code, document["status"]) == (3, "rolled_back"), document["reason"]
    assert most_rolling_at_once(document) <= 3
    _assert_aws_per_service(aws_env, scenario, document, counts, seeded)
    assert (counts["ecs:RegisterTaskDefinition"], counts["ecs:UpdateService"]) == (6, 7)


def test_max_parallel_4_never_has_more_than_4_services_rolling(tmp_path: Path, aws_env: SimServer) -> None:
    code, document, counts, seeded, scenario = _fleet(tmp_path, aws_env, "--max-parallel", "4")

    assert (code, document["status"]) == (3, "rolled_back"), document["reason"]
    assert document["max_parallel"] == 4
    assert most_rolling_at_once(document) == 4
    outcomes = _outcomes(document)
    assert outcomes == {name: "rolled_back" if name == FAILING else "succeeded" for name in service_names(scenario)}
    # Services start in file order.
    starts = [t["item"] for t in sorted(document["transitions"], key=lambda t: t["seq"])
              if t["item"] is not None and t["source"] == "pending"]
    assert starts == service_names(scenario)
    _assert_aws_per_service(aws_env, scenario, document, counts, seeded)


def test_without_max_parallel_every_service_starts_in_the_first_round(tmp_path: Path, aws_env: SimServer) -> None:
    code, document, _, _, _ = _fleet(tmp_path, aws_env, broken=())

    assert (code, document["status"]) == (0, "succeeded"), document["reason"]
    assert most_rolling_at_once(document) == 12


def test_a_poll_round_costs_one_describe_services_per_ten_services_of_a_cluster(
    tmp_path: Path, aws_env: SimServer
) -> None:
    # 24 services, 12 per cluster: two DescribeServices per cluster per round at most. Tasks start slowly, so the
    # deployments last many rounds, and one service fails (its rollback reads the service once more).
    scenario = fleet_scenario(24).model_copy(update={"task_start_seconds": 60.0})
    code, document, counts, _, scenario = _fleet(tmp_path, aws_env, scenario=scenario)

    assert (code, document["status"]) == (3, "rolled_back"), document["reason"]
    rounds = document["poll_rounds"]
    assert rounds >= 5, rounds  # long enough to be about rounds, not the first one
    per_cluster = {cluster: sum(1 for s in scenario.services if s.cluster == cluster) for cluster in ("demo", "batch")}
    per_round = sum(math.ceil(n / 10) for n in per_cluster.values())
    assert per_round == 4
    rolled_back = sum(1 for outcome in _outcomes(document).values() if outcome == "rolled_back")
    assert rolled_back == 1
    preflight = per_round  # before the run: the services read ten a request per cluster too
    polls = counts["ecs:DescribeServices"] - preflight - rolled_back
    assert rounds <= polls <= per_round * rounds, (polls, rounds)
    # Polling service by service would have cost about 24 a round.
    assert polls < 6 * rounds, (polls, rounds)


def test_a_service_superseded_by_someone_else_makes_the_fleet_superseded(tmp_path: Path, aws_env: SimServer) -> None:
    # Someone else deploys batch/svc08 while ours rolls out; demo/svc05 fails and is rolled back as well.
    scenario = fleet_scenario(12).model_copy(
        update={"foreign_updates": [ForeignUpdate(service="svc08", stage="SCALE_UP")]})
    code, document, counts, _, scenario = _fleet(tmp_path, aws_env, scenario=scenario)

    assert (code, document["status"]) == (6, "superseded"), document["reason"]
    outcomes = _outcomes(document)
    assert outcomes.pop("batch/svc08") == "superseded"
    assert outcomes.pop(FAILING) == "rolled_back"
    assert set(outcomes.values()) == {"succeeded"}
    assert "batch/svc08" in document["reason"] and "someone else deployed" in document["reason"]
    # Nothing rolled back over the other deployment: one UpdateService of ours on svc08, one rollback on svc05.
    assert counts["ecs:UpdateService"] == 13


def test_a_rollback_that_fails_makes_the_fleet_rollback_failed(tmp_path: Path, aws_env: SimServer) -> None:
    # demo/svc05's new tasks never run: its deployment times out, and its rollback does too (its old tasks are
    # replaced by ones that never run either). batch/svc08 is superseded: a failed rollback still ranks first.
    scenario = fleet_scenario(12).model_copy(update={
        "stuck_services": ["svc05"], "foreign_updates": [ForeignUpdate(service="svc08", stage="SCALE_UP")]})
    code, document, counts, _, scenario = _fleet(tmp_path, aws_env, "--timeout", "2m", "--rollback-timeout", "1m",
                                                 scenario=scenario, broken=())

    assert (code, document["status"]) == (4, "rollback_failed"), document["reason"]
    outcomes = _outcomes(document)
    assert outcomes.pop(FAILING) == "rollback_failed"
    assert outcomes.pop("batch/svc08") == "superseded"
    assert set(outcomes.values()) == {"succeeded"}
    assert "rollback failed: demo/svc05" in document["reason"]
    assert "timed out" in str(services_by_name(document)[FAILING]["reason"]) or "timeout" in str(
        services_by_name(document)[FAILING]["reason"])
    assert counts["ecs:UpdateService"] == 13
