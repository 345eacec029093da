"""What the fork server of the tests' real processes imports once (cli_helpers.ForkedProcess, forked_processes).

`python -m ecsops deploy` spends most of a second importing ecsops, boto3 and the rest, and reading the AWS
service models. The fork server does that once; each process forked from it starts with it done and then makes
its own sessions, clients and store connections, as a fresh one would.
"""

from __future__ import annotations

import contextlib
import importlib

import boto3
import botocore.client
import botocore.session
import example_cli
import example_operation
from cli_helpers import shared_client_class

import ecsops.cli.app
import ecsops.deploy.operation
import ecsops.replace.operation
import store.dynamodb_store
import store.open
import store.sqlite_store

# What a deploy or a replace-instances run imports as it goes (a module that moved is simply not preloaded).
for _module in (
    "ecsops.deploy.handlers", "ecsops.deploy.native_handlers", "ecsops.deploy.preflight", "ecsops.deploy.wait",
    "ecsops.deploy.service_deployment_wait", "ecsops.deploy.taskdef_edit", "ecsops.deploy.taskdef_diff",
    "ecsops.replace.gateways", "ecsops.replace.handlers", "ecsops.replace.instances", "ecsops.replace.plan",
    "ecsops.replace.poll", "ecsops.aws.autoscaling_actions", "ecsops.aws.elbv2", "machines.polling",
    "store.migrations", "sqlite_utils", "transitions",
):
    with contextlib.suppress(ImportError):
        importlib.import_module(_module)

# The models every command may read (the files never change) and the client classes built from them: made here,
# shared by each process's sessions and clients.
botocore.client.ClientCreator._create_client_class = shared_client_class(  # type: ignore[method-assign]
    botocore.client.ClientCreator._create_client_class
)
_session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="warm", aws_secret_access_key="warm")
for _service in ("ecs", "ec2", "autoscaling", "elbv2", "dynamodb"):
    _session.client(_service)  # type: ignore[call-overload]
_loader = _session._session.get_component("data_loader")
_create_loader = botocore.session.create_loader


def _shared_loader(search_path_string: str | None = None) -> object:
    return _loader if search_path_string is None else _create_loader(search_path_string)


botocore.session.create_loader = _shared_loader  # type: ignore[assignment]

__all__ = ["ecsops", "example_cli", "example_operation", "store"]
