"""A retry's inputs are compared field by field from the params' own declaration (issue 18): a new field is
compared unless it is named as exempt, and these tests fail until it is given a value that must be reported."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ecsops.deploy import params as deploy_params
from ecsops.deploy.flags import ContainerEdits, TaskDefinitionEdits
from ecsops.deploy.params import DeployParams
from ecsops.replace import params as replace_params
from ecsops.replace.params import ReplaceParams

DEPLOY = DeployParams(cluster="demo", service="web", account="123456789012", region="eu-west-1",
                      edits=TaskDefinitionEdits(containers={"app": ContainerEdits(image="nginx:1")}))
# A value other than DEPLOY's for every compared field; a new field fails the first test until it is added here
# (and is then checked to be reported) or named in NOT_COMPARED.
DEPLOY_ALTERED: dict[str, Any] = {
    "cluster": "other",
    "service": "api",
    "edits": TaskDefinitionEdits(containers={"app": ContainerEdits(image="nginx:2")}),
    "desired_count": 3,
    "taskdef": "web:7",
    "wait_until": "draining-started",
    "timeout_seconds": 60.0,
    "on_pause": "exit",
    "rollback_timeout_seconds": 30.0,
    "poll_interval": 1.0,
    "no_rollback": True,
    "max_failed_tasks": 2,
    "profile": "other",
    "region": "us-east-1",
}
CONTAINER = ContainerEdits(image="nginx:1", log_driver="awslogs")
CONTAINER_ALTERED: dict[str, Any] = {
    "image": "nginx:2",
    "environment": {"MODE": "b"},
    "secrets": {"TOKEN": "arn:aws:ssm:eu-west-1:123456789012:parameter/t"},
    "log_driver": "fluentd",
    "log_options": {"awslogs-group": "g"},
    "log_secret_options": {"api-key": "arn:aws:ssm:eu-west-1:123456789012:parameter/k"},
}
REPLACE = ReplaceParams(asg="prod-asg", cluster="prod", batch_size=1, timeout=900.0, poll_interval=None,
                        profile=None, region="eu-west-1", account="123456789012")
REPLACE_ALTERED: dict[str, Any] = {
    "asg": "other-asg",
    "cluster": "other",
    "batch_size": 2,
    "timeout": 60.0,
    "poll_interval": 5.0,
    "profile": "other",
    "region": "us-east-1",
}


def test_every_deploy_field_is_compared_or_exempt() -> None:
    assert set(DEPLOY_ALTERED).isdisjoint(deploy_params.NOT_COMPARED)
    assert set(DeployParams.model_fields) == set(DEPLOY_ALTERED) | deploy_params.NOT_COMPARED
    assert set(ContainerEdits.model_fields) == set(CONTAINER_ALTERED) | deploy_params.CONTAINER_NOT_COMPARED
    assert set(TaskDefinitionEdits.model_fields) == {"containers", *deploy_params.TASK_ROLE_FIELDS}


@pytest.mark.parametrize("name", sorted(DEPLOY_ALTERED))
def test_a_deploy_retry_differing_in_one_field_is_told_which(name: str) -> None:
    assert deploy_params.differences(DEPLOY, DEPLOY.recorded()) == []
    found = deploy_params.differences(DEPLOY.model_copy(update={name: DEPLOY_ALTERED[name]}), DEPLOY.recorded())
    label = "container image app" if name == "edits" else deploy_params._label(name)
    assert found and found[0].startswith(f"{label}: recorded "), found


@pytest.mark.parametrize("name", sorted(CONTAINER_ALTERED))
def test_a_deploy_retry_differing_in_one_container_edit_is_told_which(name: str) -> None:
    before = DEPLOY.model_copy(update={"edits": TaskDefinitionEdits(containers={"app": CONTAINER})})
    edits = TaskDefinitionEdits(containers={"app": CONTAINER.model_copy(update={name: CONTAINER_ALTERED[name]})})
    found = deploy_params.differences(before.model_copy(update={"edits": edits}), before.recorded())
    label = f"container {deploy_params.CONTAINER_LABELS.get(name, name)} app"
    assert len(found) == 1 and found[0].startswith(label), found
    assert deploy_params.differences(before, before.recorded()) == []


def test_the_fields_preflight_fills_in_are_no_difference() -> None:
    typed = DEPLOY.model_copy(update={"account": None, "snapshot": None, "timeout_given": False})
    assert deploy_params.differences(typed, DEPLOY.recorded()) == []


def test_every_replace_field_is_compared_or_exempt() -> None:
    assert set(REPLACE_ALTERED).isdisjoint(replace_params.NOT_COMPARED)
    names = {field.name for field in dataclasses.fields(ReplaceParams)}
    assert names == set(REPLACE_ALTERED) | replace_params.NOT_COMPARED


@pytest.mark.parametrize("name", sorted(REPLACE_ALTERED))
def test_a_replace_retry_differing_in_one_field_is_told_which(name: str) -> None:
    assert replace_params.differences(REPLACE, REPLACE.recorded()) == []
    found = replace_params.differences(dataclasses.replace(REPLACE, **{name: REPLACE_ALTERED[name]}),
                                       REPLACE.recorded())
    assert found and found[0].startswith(f"{name.replace('_', ' ')}: recorded "), found
