"""Naming an AWS request as `service:Operation` from its headers and body, the way boto3 names them."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

TARGET_PREFIXES = {"AmazonEC2ContainerServiceV20141113": "ecs", "DynamoDB_20120810": "dynamodb"}
SIGNING_NAMES = {"elasticloadbalancing": "elbv2"}
_CREDENTIAL = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")
READ_PREFIXES = ("Describe", "List", "Get")
# DynamoDB reads that the prefixes miss (GetItem, DescribeTable... are caught by them).
READ_OPERATIONS = frozenset({"Query", "Scan", "BatchGetItem", "TransactGetItems"})
TICKING_SERVICES = {"ecs", "autoscaling", "elbv2"}


def identify(environ: dict[str, Any], body: bytes) -> tuple[str, str]:
    """Return (service, operation); service names are boto3 client names (ecs, ec2, autoscaling, elbv2, dynamodb)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if "." in target:
        prefix, operation = target.split(".", 1)
        return TARGET_PREFIXES.get(prefix, prefix.lower()), operation
    service = "unknown"
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        service = SIGNING_NAMES.get(match.group(1), match.group(1))
    operation = "unknown"
    try:
        form = parse_qs(body.decode("utf-8"))
    except UnicodeDecodeError:
        form = {}
    if "Action" in form:
        operation = form["Action"][0]
    return service, operation


def is_read(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES) or operation in READ_OPERATIONS


def ticks(service: str, operation: str) -> bool:
    """Observation calls that move virtual time by the scenario's tick_seconds."""
    return service in TICKING_SERVICES and is_read(operation)
