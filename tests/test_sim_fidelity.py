"""Fidelity: the moto internals ecsops/sim hooks are still there; fails loudly after a moto upgrade."""

from __future__ import annotations

import inspect
from importlib.metadata import version

from ecsops.sim.server import SimServer

PINNED_MOTO = "5.2.5"


def test_moto_is_the_pinned_version() -> None:
    assert version("moto") == PINNED_MOTO, (
        f"moto {version('moto')} installed; ecsops/sim hooks moto {PINNED_MOTO} internals. "
        "Re-check ecsops/sim/hooks.py and this file before changing the pin in pyproject.toml."
    )


def test_hooked_internals_exist_with_expected_signatures() -> None:
    from moto.autoscaling.models import FakeAutoScalingGroup, InstanceState
    from moto.ecs.models import EC2ContainerServiceBackend, Service, Task
    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus

    from ecsops.sim import hooks

    hooks.install()
    originals = hooks._originals
    assert list(inspect.signature(originals["list_tasks"]).parameters) == [
        "self",
        "cluster_str",
        "container_instance",
        "family",
        "started_by",
        "service_name",
        "desiredStatus",
    ]
    assert list(inspect.signature(originals["stop_task"]).parameters) == ["self", "cluster_str", "task_str", "reason"]
    assert list(inspect.signature(originals["deregister_container_instance"]).parameters) == [
        "self",
        "cluster_str",
        "container_instance_str",
        "force",
    ]
    assert list(inspect.signature(originals["describe_target_health"]).parameters) == [
        "self",
        "target_group_arn",
        "targets",
    ]
    task_params = inspect.signature(Task.__init__).parameters
    for name in (
        "cluster",
        "task_definition",
        "container_instance_arn",
        "resource_requirements",
        "backend",
        "group",
        "launch_type",
        "started_by",
        "networking_configuration",
        "platform_version",
    ):
        assert name in task_params, f"moto Task() lost parameter {name}"
    assert list(inspect.signature(FakeHealthStatus.__init__).parameters)[:5] == [
        "self",
        "instance_id",
        "port",
        "health_port",
        "status",
    ]
    assert "autoscaling_group" in inspect.signature(originals["instance_state_init"]).parameters
    assert list(inspect.signature(originals["attach_instances"]).parameters) == ["self", "group_name", "instance_ids"]
    assert hasattr(FakeAutoScalingGroup, "replace_autoscaling_group_instances")
    assert EC2ContainerServiceBackend.list_tasks is hooks._list_tasks
    assert ELBv2Backend.describe_target_health is hooks._describe_target_health
    assert isinstance(InstanceState.__dict__["launch_template"], property)
    assert "deployments" in inspect.getsource(Service.__init__)


def test_ecs_task_state_manager_is_manual(sim: SimServer) -> None:
    from moto.moto_api import state_manager

    assert state_manager.get_transition("ecs::task") == {"progression": "manual", "times": 10**9}


def test_moto_gaps_are_fixed_end_to_end(sim: SimServer) -> None:
    """Each assertion here is false on plain moto 5.2.5 (see DESIGN.md §5)."""
    ecs = sim.client("ecs")
    service = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert service["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["runningCount"] == 2 and service["events"]
    ecs.run_task(cluster="demo", taskDefinition="web")  # a non-service task must not show under serviceName
    assert len(ecs.list_tasks(cluster="demo", serviceName="web")["taskArns"]) == 2
    assert len(ecs.list_tasks(cluster="demo")["taskArns"]) == 3
    updated = ecs.update_service(cluster="demo", service="web", taskDefinition="web:1", forceNewDeployment=True)
    assert updated["service"]["taskDefinition"].startswith("arn:aws:ecs:")
    assert len(updated["service"]["deployments"]) == 2
