"""deploy-fleet and the service locks: a fleet takes one lock per service (sorted, before any change); a service
held by another run refuses the whole fleet (exit 5) naming the service and the holder, and a service a fleet holds
refuses a single deploy or another fleet, naming the fleet run."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from cli_helpers import run_ecsops, start_ecsops
from deploy_helpers import wait_until
from fleet_helpers import NO_PAUSE, deploy_fleet, fleet_file, fleet_scenario, revisions_of, service_names

from ecsops.sim.scenario import Scenario
from ecsops.sim.server import SimServer
from store.open import open_store

ACCOUNT_REGION = "123456789012:us-east-1"
LONG_LEASE = "3600"  # the holder's lease outlasts the virtual time the tests' calls move the clock by


def target_of(name: str) -> str:
    """The lock key of CLUSTER/SERVICE."""
    return f"ecs:{ACCOUNT_REGION}:{name}"


def _lock_holders(store: Path, names: list[str]) -> dict[str, str | None]:
    """Per CLUSTER/SERVICE, the run holding its lock (None: free or never locked)."""
    opened = open_store(str(store))
    holders: dict[str, str | None] = {}
    for name in names:
        lock = opened.get_lock(target_of(name))
        holders[name] = None if lock is None or lock.free else lock.run_id
    return holders


def _is_stopped(process: Any) -> bool:
    stat = Path(f"/proc/{process.pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "T"


def _continue(process: Any) -> str:
    """SIGCONT a process stopped at its ECSOPS_STOP_AT point, read it to its end: its stderr. If it does not end
    soon, it is killed (the test failed)."""
    process.send_signal(signal.SIGCONT)
    try:
        return str(process.communicate(timeout=30)[1])
    except Exception:
        process.kill()
        raise


def _single_deploy_killed_holding(store: Path, cluster: str, service: str, run_id: str) -> None:
    """A single deploy of the service killed once its rollback target is recorded: nothing changed on AWS,
    its lock still its own (its run is unfinished)."""
    killed = run_ecsops(store, "deploy", "--cluster", cluster, "--service", service, "--container-image",
                        "app=nginx:1.28", "--poll-interval", "0", "--run-id", run_id,
                        ECSOPS_CRASH_AT="checkpoint:snapshotted", ECSOPS_LOCK_LEASE_SECONDS=LONG_LEASE)
    assert killed.returncode == -signal.SIGKILL, killed.stderr


def _setup(tmp_path: Path, sim: SimServer, count: int = 12) -> tuple[Scenario, Path, Path]:
    scenario = fleet_scenario(count)
    sim.reset(scenario)
    return scenario, fleet_file(tmp_path / "fleet.toml", scenario, top=NO_PAUSE), tmp_path / "s.db"


def test_a_service_locked_by_a_killed_deploy_refuses_the_fleet_naming_it_and_its_holder(
    tmp_path: Path, aws_env: SimServer
) -> None:
    scenario, file, store = _setup(tmp_path, aws_env)
    _single_deploy_killed_holding(store, "demo", "svc07", "single-1")  # mid-order: other locks come before it
    aws_env.reset_counts()

    refused = deploy_fleet(store, file, "--run-id", "fleet-1")

    assert refused.returncode == 5, refused.stderr
    assert f"{target_of('demo/svc07')} is locked by run single-1" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert aws_env.mutating_calls() == {}  # nothing changed
    for spec in scenario.services:
        assert revisions_of(aws_env, spec.name) == [f"{spec.name}:1"]
    holders = _lock_holders(store, service_names(scenario))
    assert holders == {name: "single-1" if name == "demo/svc07" else None for name in service_names(scenario)}
    assert run_ecsops(store, "status", "fleet-1").returncode == 2  # refused before any record was made
    # The holder is unharmed: resumed, it finishes its deploy.
    resumed = run_ecsops(store, "resume", "single-1")
    assert resumed.returncode == 0, resumed.stderr
    assert _lock_holders(store, ["demo/svc07"]) == {"demo/svc07": None}
    # Then the fleet goes through.
    assert deploy_fleet(store, file, "--run-id", "fleet-2").returncode == 0


def test_a_service_locked_by_a_live_deploy_refuses_the_fleet_naming_its_process(
    tmp_path: Path, aws_env: SimServer
) -> None:
    scenario, file, store = _setup(tmp_path, aws_env)
    holder = start_ecsops(store, "deploy", "--cluster", "batch", "--service", "svc02", "--container-image",
                          "app=nginx:1.28", "--poll-interval", "0", "--run-id", "live-1",
                          ECSOPS_STOP_AT="checkpoint:snapshotted", ECSOPS_LOCK_LEASE_SECONDS=LONG_LEASE)
    try:
        wait_until(lambda: _is_stopped(holder), "the single deploy stops holding its lock")
        aws_env.reset_counts()

        refused = deploy_fleet(store, file, "--run-id", "fleet-1")

        assert refused.returncode == 5, refused.stderr
        assert f"{target_of('batch/svc02')} is locked by run live-1" in refused.stderr
        assert str(holder.pid) in refused.stderr  # a live process of this host: named, to wait for or stop
        assert aws_env.mutating_calls() == {}
        holders = _lock_holders(store, service_names(scenario))
        assert holders == {name: "live-1" if name == "batch/svc02" else None for name in service_names(scenario)}
    finally:
        stderr = _continue(holder)
    assert holder.returncode == 0, stderr


def test_a_single_deploy_of_a_service_a_killed_fleet_holds_is_refused_naming_the_fleet_run(
    tmp_path: Path, aws_env: SimServer
) -> None:
    scenario, file, store = _setup(tmp_path, aws_env)
    killed = deploy_fleet(store, file, "--run-id", "fleet-1", ECSOPS_CRASH_AT="item-checkpoint:waiting",
                          ECSOPS_LOCK_LEASE_SECONDS=LONG_LEASE)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # Every service's lock is the fleet's, those it has not started yet too.
    assert set(_lock_holders(store, service_names(scenario)).values()) == {"fleet-1"}
    aws_env.reset_counts()

    for cluster, service in (("demo", "svc01"), ("batch", "svc12")):  # started, and not started yet
        single = run_ecsops(store, "deploy", "--cluster", cluster, "--service", service, "--container-image",
                            "app=nginx:1.28", "--poll-interval", "0")
        assert single.returncode == 5, single.stderr
        assert f"{target_of(f'{cluster}/{service}')} is locked by run fleet-1" in single.stderr
        assert "`ecsops resume fleet-1`" in single.stderr
    assert aws_env.mutating_calls() == {}

    resumed = run_ecsops(store, "resume", "fleet-1")
    assert resumed.returncode == 0, resumed.stderr
    assert set(_lock_holders(store, service_names(scenario)).values()) == {None}


def _overlapping(tmp_path: Path, scenario: Scenario) -> Path:
    """A second fleet file with svc09..svc16 of a 16-service scenario (the first has svc01..svc10)."""
    second = scenario.model_copy(update={"services": scenario.services[8:]})
    return fleet_file(tmp_path / "second.toml", second, top=NO_PAUSE)


def test_a_second_fleet_overlapping_a_running_one_is_refused(tmp_path: Path, aws_env: SimServer) -> None:
    scenario = fleet_scenario(16)
    aws_env.reset(scenario)
    store = tmp_path / "s.db"
    first_file = fleet_file(tmp_path / "first.toml", scenario.model_copy(update={"services": scenario.services[:10]}),
                            top=NO_PAUSE)
    second_file = _overlapping(tmp_path, scenario)
    first = start_ecsops(store, "deploy-fleet", str(first_file), "--run-id", "first",
                         ECSOPS_STOP_AT="intent:update_service:batch/svc04", ECSOPS_LOCK_LEASE_SECONDS=LONG_LEASE)
    try:
        wait_until(lambda: _is_stopped(first), "the first fleet stops mid-run (some services updated)")
        before = aws_env.mutating_calls()

        second = deploy_fleet(store, second_file, "--run-id", "second")

        assert second.returncode == 5, second.stderr
        # The first service of the overlap in lock order (sorted keys: batch/svc10 before demo/svc09).
        assert f"{target_of('batch/svc10')} is locked by run first" in second.stderr
        assert aws_env.mutating_calls() == before
        names = service_names(scenario)
        holders = _lock_holders(store, names)
        assert holders == {name: "first" if name in names[:10] else None for name in names}
    finally:
        stderr = _continue(first)
    assert first.returncode == 0, stderr
    # Once the first is done, the second goes through.
    assert deploy_fleet(store, second_file, "--run-id", "second-again").returncode == 0


def test_a_second_fleet_overlapping_a_killed_one_is_refused_naming_it(tmp_path: Path, aws_env: SimServer) -> None:
    scenario = fleet_scenario(16)
    aws_env.reset(scenario)
    store = tmp_path / "s.db"
    first_file = fleet_file(tmp_path / "first.toml", scenario.model_copy(update={"services": scenario.services[:10]}),
                            top=NO_PAUSE)
    killed = deploy_fleet(store, first_file, "--run-id", "first", ECSOPS_CRASH_AT="checkpoint:rolling",
                          ECSOPS_LOCK_LEASE_SECONDS=LONG_LEASE)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    aws_env.reset_counts()

    second = deploy_fleet(store, _overlapping(tmp_path, scenario), "--run-id", "second")

    assert second.returncode == 5, second.stderr
    assert "is locked by run first" in second.stderr and "`ecsops resume first`" in second.stderr
    assert aws_env.mutating_calls() == {}
    holders = _lock_holders(store, service_names(scenario))
    assert {name for name, run in holders.items() if run is not None} == set(service_names(scenario)[:10])
    assert set(holders.values()) == {"first", None}
