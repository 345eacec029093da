"""deploy-fleet on the simulator: a fleet of services on two clusters, one poll round per interval, one verdict."""

from __future__ import annotations

from pathlib import Path

from fleet_helpers import deploy_fleet, fleet_file, fleet_scenario, services_by_name, task_definition_of

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
    for spec in scenario.services:
        assert task_definition_of(aws_env, spec.cluster, spec.name) == f"{spec.name}:2"

