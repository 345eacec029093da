"""Patches on moto 5.2.5 internals that route API calls through the model; see tests/test_sim_fidelity.py."""

from __future__ import annotations

from typing import Any

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import AutoScalingBackend, InstanceState
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.elbv2.models import ELBv2Backend

from ecsops.sim.asg_model import (
    attach_refusal,
    record_launch_settings,
    recorded_launch_configuration,
    recorded_launch_template,
)
from ecsops.sim.model import SimModel

_active: SimModel | None = None
_installed = False
_originals: dict[str, Any] = {}


def activate(model: SimModel | None) -> None:
    """Route hooked calls to `model` (None: behave like plain moto, except the Auto Scaling fidelity fixes:
    launch settings recorded at launch, AttachInstances past MaxSize refused as AWS does)."""
    global _active
    _active = model


def _model_for(backend: Any) -> SimModel | None:
    model = _active
    if model is not None and model.handles(backend.account_id, backend.region_name):
        return model
    return None


def install() -> None:
    """Install every patch once per process; idempotent."""
    global _installed
    if _installed:
        return
    _originals["create_service"] = EC2ContainerServiceResponse.create_service
    _originals["update_service"] = EC2ContainerServiceResponse.update_service
    _originals["list_tasks"] = EC2ContainerServiceBackend.list_tasks
    _originals["stop_task"] = EC2ContainerServiceBackend.stop_task
    _originals["deregister_container_instance"] = EC2ContainerServiceBackend.deregister_container_instance
    _originals["instance_state_init"] = InstanceState.__init__
    _originals["describe_target_health"] = ELBv2Backend.describe_target_health
    _originals["attach_instances"] = AutoScalingBackend.attach_instances
    patches: list[tuple[type, str, Any]] = [
        (EC2ContainerServiceResponse, "create_service", _create_service),
        (EC2ContainerServiceResponse, "update_service", _update_service),
        (EC2ContainerServiceBackend, "list_tasks", _list_tasks),
        (EC2ContainerServiceBackend, "stop_task", _stop_task),
        (EC2ContainerServiceBackend, "deregister_container_instance", _deregister_container_instance),
        (InstanceState, "__init__", _instance_state_init),
        (InstanceState, "launch_template", property(_launch_template)),
        (InstanceState, "launch_configuration_name", property(_launch_configuration_name)),
        (ELBv2Backend, "describe_target_health", _describe_target_health),
        (AutoScalingBackend, "attach_instances", _attach_instances),
    ]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)
    from ecsops.sim import dynamodb_speed

    dynamodb_speed.install()
    _installed = True


def _create_service(self: Any) -> Any:
    result = _originals["create_service"](self)
    model = _model_for(self.ecs_backend)
    if model is not None:
        service = self.ecs_backend._get_service(self._get_param("cluster", "default"), self._get_param("serviceName"))
        model.ecs.on_create_service(service, self._get_param("deploymentConfiguration"))
    return result


def _update_service(self: Any) -> Any:
    params = dict(self._get_params())
    result = _originals["update_service"](self)
    model = _model_for(self.ecs_backend)
    if model is not None:
        service = self.ecs_backend._get_service(params.get("cluster", "default"), params["service"].split("/")[-1])
        model.ecs.on_update_service(service, params)
    return result


def _list_tasks(
    self: Any,
    cluster_str: str | None = None,
    container_instance: str | None = None,
    family: str | None = None,
    started_by: str | None = None,
    service_name: str | None = None,
    desiredStatus: str | None = None,
) -> list[Any]:
    # ECS filters on serviceName and defaults desiredStatus to RUNNING; moto does neither. ECS refuses startedBy
    # beside another filter ("cannot specify startedBy with other arguments"); desiredStatus is allowed with it.
    if started_by and (container_instance or family or service_name):
        raise InvalidParameterException("cannot specify startedBy with other arguments")
    tasks: list[Any] = _originals["list_tasks"](
        self, cluster_str, container_instance, family, started_by, None, desiredStatus or "RUNNING"
    )
    if service_name:
        group = f"service:{service_name.split('/')[-1]}"
        tasks = [t for t in tasks if t.group == group]
    return tasks


def _stop_task(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
    model = _model_for(self)
    if model is not None:
        arn = next((a for a in model.ecs.runner.tasks if a.endswith(task_str.split("/")[-1])), None)
        task = model.ecs.on_stop_task(arn, reason) if arn else None
        if task is not None:
            return task
    return _originals["stop_task"](self, cluster_str, task_str, reason)


def _deregister_container_instance(self: Any, cluster_str: str, container_instance_str: str, force: bool) -> Any:
    container_instance = _originals["deregister_container_instance"](self, cluster_str, container_instance_str, force)
    model = _model_for(self)
    if model is not None:
        model.ecs.on_container_instance_deregistered(container_instance.id)
    return container_instance


def _instance_state_init(self: Any, instance: Any, *args: Any, **kwargs: Any) -> None:
    _originals["instance_state_init"](self, instance, *args, **kwargs)
    record_launch_settings(instance, self.auto_scaling_group)


def _launch_template(self: Any) -> dict[str, Any] | None:
    return recorded_launch_template(self.instance)


def _launch_configuration_name(self: Any) -> str | None:
    return recorded_launch_configuration(self.instance)


def _attach_instances(self: Any, group_name: str, instance_ids: list[str]) -> None:
    group = self.autoscaling_groups.get(group_name)
    refusal = attach_refusal(group, len(instance_ids)) if group is not None else None
    if refusal is not None:
        raise ValidationError(refusal)
    _originals["attach_instances"](self, group_name, instance_ids)


def _describe_target_health(self: Any, target_group_arn: str, targets: list[dict[str, Any]]) -> list[Any]:
    model = _model_for(self)
    if model is not None and target_group_arn in self.target_groups:
        entries = model.elb.health(target_group_arn, targets)
        if entries is not None:
            if targets:
                return entries
            plain: list[Any] = _originals["describe_target_health"](self, target_group_arn, targets)
            return plain + entries
    result: list[Any] = _originals["describe_target_health"](self, target_group_arn, targets)
    return result
