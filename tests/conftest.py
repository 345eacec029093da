"""Shared pytest fixtures."""

import gc
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from store.base import RunStore

# devtools/ (the bench, the README's diagrams) is not installed with ecsops: it is found from the repository.
_REPOSITORY = str(Path(__file__).resolve().parent.parent)
if _REPOSITORY not in sys.path:
    sys.path.insert(0, _REPOSITORY)

pytest_plugins = ["ecsops.sim.pytest_plugin"]


def _moto_default_amis_only() -> None:
    """Every fresh simulated account (each test resets one, some 600 a run) gets an EC2 backend that loads
    about 1300 regional AMIs, 0.13 s each time. The simulator and the tests launch from one of moto's 44
    default AMIs only: with MOTO_AMIS_PATH naming those (set before moto is imported), moto loads just them.
    """
    import atexit
    import gzip
    import importlib.util
    import os
    import tempfile

    spec = importlib.util.find_spec("moto")  # located, not imported
    if "MOTO_AMIS_PATH" in os.environ or spec is None or not spec.submodule_search_locations:
        return
    defaults = Path(spec.submodule_search_locations[0], "ec2", "resources", "amis.json.gz")
    handle, path = tempfile.mkstemp(prefix="ecsops-tests-amis-", suffix=".json")
    with os.fdopen(handle, "wb") as copy:
        copy.write(gzip.decompress(defaults.read_bytes()))
    os.environ["MOTO_AMIS_PATH"] = path
    atexit.register(os.unlink, path)


_moto_default_amis_only()


# A test process's heap is mostly what stays for its whole life: ecsops, boto3, moto and the AWS models, the
# simulator. The cyclic garbage collector walks all of it in each full collection (some 280 ms, dozens a run):
# once the first tests have imported what they use, it is frozen out of the collector's sight, and full
# collections come ten times less often (the tests' own garbage is still collected).
gc.set_threshold(700, 10, 100)
_FREEZES = 3


def pytest_runtest_setup(item: pytest.Item) -> None:
    global _FREEZES
    if _FREEZES:
        _FREEZES -= 1
        gc.collect()
        gc.freeze()


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An in-process moto account (no HTTP), with dummy credentials and no endpoint override."""
    from moto import mock_aws

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


# ---- store backends for tests/test_store_contract.py ------------------------------------------------------
# Each entry makes the location of a fresh, empty store (what `--store` takes) for one test. Another
# backend joins the contract tests with one line here, e.g. "dynamodb": a factory returning
# "dynamodb://TABLE" against the simulator (it may ask request.getfixturevalue("aws_env")).
StoreLocation = Callable[[pytest.FixtureRequest, Path], str]
STORE_BACKENDS: dict[str, StoreLocation] = {
    "sqlite": lambda request, tmp_path: str(tmp_path / "contract" / "ecsops.db"),
    "dynamodb": lambda request, tmp_path: __import__("dynamodb_helpers").contract_table(request),
}


@dataclass(frozen=True)
class StoreBackend:
    """A fresh store any process can open (again) by its location."""

    name: str
    location: str

    def open(self) -> RunStore:
        from store.open import open_store

        return open_store(self.location)


@pytest.fixture(params=list(STORE_BACKENDS))
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> StoreBackend:
    return StoreBackend(request.param, STORE_BACKENDS[request.param](request, tmp_path))


@pytest.fixture(scope="session")
def sim_server(sim_server: Any) -> Iterator[Any]:
    """The plugin's simulator for this worker, made known to the in-process runner (it reads its clock directly)."""
    from cli_helpers import LOCAL_SIMULATORS

    LOCAL_SIMULATORS[sim_server.url] = sim_server
    try:
        yield sim_server
    finally:
        LOCAL_SIMULATORS.pop(sim_server.url, None)
