"""The DynamoDB store against the simulator: a fresh table, and runners (their own HOME) sharing it.

The functions expect the AWS environment to point at the simulator (the `aws_env` fixture, or
`point_at` in a test of its own).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Result, run_ecsops

from ecsops.sim.server import SimServer
from store.dynamodb_admin import init_table
from store.dynamodb_requests import DynamoTable
from store.dynamodb_store import DynamoRunStore, open_dynamodb_store
from store.location import DynamoLocation, parse_store_location

TABLE = "ecsops-runs"
STORE_URL = f"dynamodb://{TABLE}"


def point_at(sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3 here and in CLI subprocesses talks to the simulator, with dummy credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", sim.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", sim.scenario.region)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def location(url: str = STORE_URL) -> DynamoLocation:
    parsed = parse_store_location(url)
    assert isinstance(parsed, DynamoLocation)
    return parsed


def make_table(url: str = STORE_URL) -> list[str]:
    """Create the store's table (what `ecsops store init` does); returns what init reported."""
    return init_table(DynamoTable(location(url)))


def open_store_at(url: str = STORE_URL) -> DynamoRunStore:
    """The DynamoDB store; its retries do not sleep."""
    return open_dynamodb_store(location(url), sleep=lambda _: None)


def dynamo_counts(sim: SimServer) -> dict[str, int]:
    """DynamoDB requests the simulator received, by operation."""
    return {key.split(":", 1)[1]: n for key, n in sim.counts().items() if key.startswith("dynamodb:")}


def runner(home: Path, *args: str, store: str = STORE_URL, timeout: float = 60, **env: Any) -> Result:
    """`ecsops ARGS` as a CI runner of its own: its own HOME (its own default SQLite path), the team store."""
    home.mkdir(parents=True, exist_ok=True)
    settings = {"HOME": str(home), "ECSOPS_STORE": store, **env}
    return run_ecsops(home / "unused.db", *args, timeout=timeout, **settings)


def contract_table(request: pytest.FixtureRequest) -> str:
    """A fresh, initialised table in an empty simulated account, for tests/test_store_contract.py."""
    sim: SimServer = request.getfixturevalue("sim_server")
    sim.reset(None)
    point_at(sim, request.getfixturevalue("monkeypatch"))
    make_table()
    return STORE_URL
