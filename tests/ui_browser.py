"""What the ui's browser tests share: Debian's Chromium driven by Playwright, an `ecsops ui` process on 127.0.0.1,
and a store filled by real runs against the simulator (devtools/audit_store.py)."""

from __future__ import annotations

import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_ecsops, start_ecsops

from devtools.audit_store import AuditRun, fill_audit_store
from ecsops.sim.server import SimServer

# As the machine's own notes advise: without the background-networking flags Chromium keeps trying hosts that a
# closed network refuses; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str:
    """Debian's Chromium (`make test` installs it); skipped without it, except under CI=true, where it must be."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail("chromium is not installed: `make test` installs it (apt-get install chromium, as root)")
    pytest.skip("chromium is not installed (as root: apt-get install chromium; `make test` does it)")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (playwright's Browser)."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def ui_server(store: Path) -> Iterator[str]:
    """`ecsops ui` on 127.0.0.1 in a process of its own, serving `store`; yields its base URL once it answers."""
    port = free_port()
    process = start_ecsops(store, "ui", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            code = process.poll()
            assert code is None, f"ecsops ui exited {code}: {process.communicate(timeout=5)[1]}"
            assert time.monotonic() < deadline, "ecsops ui did not answer within 30 s"
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except Exception:
            process.kill()


def audit_store(sim_server: SimServer, path: Path) -> Path:
    """`path` filled with devtools.audit_store's runs, made by ecsops against the simulator's bluegreen scenario."""
    sim_server.reset("bluegreen")
    env = {
        "AWS_ENDPOINT_URL": sim_server.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": sim_server.scenario.region, "ECSOPS_CLOCK": "sim",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            patch.delenv(name, raising=False)
        for name, value in env.items():
            patch.setenv(name, value)

        def run(audit_run: AuditRun) -> int:
            result = run_ecsops(path, *audit_run.argv, timeout=120, **audit_run.env)
            return result.returncode

        fill_audit_store(run)
    return path
