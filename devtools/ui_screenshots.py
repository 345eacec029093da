"""`python -m devtools.ui_screenshots`: the screenshots of `ecsops ui` in docs/, taken in headless Chromium from a
store filled by real runs against the simulator (devtools/audit_store.py)."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from devtools.audit_store import ROOT, AuditRun, fill_audit_store

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
# (file in docs/, path in the ui, what the page shows)
PAGES = (
    ("ui-runs.png", "/", "the runs page"),
    ("ui-run-rolled-back.png", "/runs/ui-broken", "a deploy that ECS's circuit breaker rolled back"),
    ("ui-run-bluegreen.png", "/runs/ui-bluegreen", "a blue/green deploy through its bake"),
    ("ui-run-fleet.png", "/runs/ui-fleet", "a fleet of three services"),
)


def _ecsops(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "ecsops", *args]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"ecsops ui exited {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise SystemExit(f"ecsops ui did not answer at {url}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the PNG files go (default docs/)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the Chromium executable")
    options = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from ecsops.sim.server import SimServer

    sim = SimServer(port=0).start()
    server: subprocess.Popen[bytes] | None = None
    try:
        sim.reset("bluegreen")
        store = Path(tempfile.mkdtemp(prefix="ecsops-ui-")) / "ecsops.db"
        env = dict(os.environ, AWS_ENDPOINT_URL=sim.url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_DEFAULT_REGION="us-east-1", ECSOPS_CLOCK="sim", ECSOPS_STORE=str(store))
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "ECSOPS_CRASH_AT"):
            env.pop(name, None)

        def run(audit_run: AuditRun) -> int:
            return subprocess.run(_ecsops(list(audit_run.argv)), env={**env, **audit_run.env},
                                  capture_output=True, timeout=300).returncode

        fill_audit_store(run)
        port = _free_port()
        server = subprocess.Popen(_ecsops(["ui", "--port", str(port)]), env=env)
        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/", server)
        options.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=options.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for name, path, what in PAGES:
                page.goto(f"{base}{path}")
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(options.out / name), full_page=True)
                print(f"{options.out / name}: {what} ({path})")
            browser.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
