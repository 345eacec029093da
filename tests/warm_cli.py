"""What the fork server of the tests' real processes imports once (cli_helpers.ForkedProcess, forked_processes).

`python -m ecsops deploy` spends most of a second importing ecsops, boto3 and the rest, and reading the AWS
service models. The fork server does that once; each process forked from it starts with it done and then makes
its own sessions, clients and store connections, as a fresh one would.
"""

from __future__ import annotations

import boto3
import botocore.session
import example_cli
import example_operation

import ecsops.cli.app
import ecsops.deploy.operation
import ecsops.replace.operation
import store.dynamodb_store
import store.open
import store.sqlite_store

# The models every command may read (the files never change): loaded here, shared by each process's sessions.
_session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="warm", aws_secret_access_key="warm")
for _service in ("ecs", "ec2", "autoscaling", "elbv2", "dynamodb"):
    _session.client(_service)  # type: ignore[call-overload]
_loader = _session._session.get_component("data_loader")
_create_loader = botocore.session.create_loader


def _shared_loader(search_path_string: str | None = None) -> object:
    return _loader if search_path_string is None else _create_loader(search_path_string)


botocore.session.create_loader = _shared_loader  # type: ignore[assignment]

__all__ = ["ecsops", "example_cli", "example_operation", "store"]
