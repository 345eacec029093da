"""pytest fixtures: one simulator per worker (`sim_server`), a fresh account per test (`sim`), env (`aws_env`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ecsops.sim.server import SimServer


@pytest.fixture(scope="session")
def sim_server() -> Iterator[SimServer]:
    """One SimServer on 127.0.0.1 per test process (per xdist worker); moto is imported only here."""
    from ecsops.sim.server import SimServer

    server = SimServer(port=0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sim(sim_server: SimServer) -> SimServer:
    """The worker's simulator reset to the `demo` scenario; call `sim.reset(other)` for another one. The reset is
    done when the test first uses the simulator, so a test that starts with its own scenario seeds only that."""
    sim_server.reset_when_used("demo")
    return sim_server


@pytest.fixture
def aws_env(sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> SimServer:
    """Point boto3 in this process and CLI subprocesses (they inherit os.environ) at the simulator."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", sim.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", sim.scenario.region)
    monkeypatch.setenv("ECSOPS_CLOCK", "sim")
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return sim
