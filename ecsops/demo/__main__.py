"""`make demo`: a real deploy, a failing deploy rolled back, a blue/green deploy followed through its bake, then
`runs` and `status`, on simulated AWS."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS: tuple[tuple[str, list[str], int], ...] = (
    (
        "A good deploy: new image and an env var; ecsops waits for its own deployment",
        ["deploy", "--cluster", "demo", "--service", "web", "--container-image", "app=nginx:1.27",
         "--container-envvar", "app=GREETING=hello", "--poll-interval", "5", "--run-id", "demo-good"],
        0,
    ),
    (
        "A failing deploy: the image never starts; the circuit breaker fails it and the service is rolled back",
        ["deploy", "--cluster", "demo", "--service", "web", "--container-image", "app=nginx:broken",
         "--poll-interval", "5", "--timeout", "10m", "--run-id", "demo-broken"],
        3,
    ),
    (
        "A blue/green deploy (service bg, 30-minute bake): ecsops follows ECS's own service deployment to SUCCESSFUL",
        ["deploy", "--cluster", "demo", "--service", "bg", "--container-image", "app=nginx:1.27",
         "--run-id", "demo-bluegreen"],
        0,
    ),
    ("Every run, newest first", ["runs"], 0),
    ("The good run's timeline", ["status", "demo-good"], 0),
    ("The rolled-back run's timeline", ["status", "demo-broken"], 0),
    ("The blue/green run: its strategy and service deployment", ["status", "demo-bluegreen"], 0),
)


def _banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def main() -> int:
    from ecsops.sim.server import SimServer

    started = time.monotonic()
    sim = SimServer(port=0).start()
    try:
        sim.reset("bluegreen")  # the demo's cluster, plus services on BLUE_GREEN, LINEAR and CANARY
        workdir = Path(tempfile.mkdtemp(prefix="ecsops-demo-"))
        env = dict(os.environ)
        env.update(
            AWS_ENDPOINT_URL=sim.url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1", ECSOPS_CLOCK="sim", ECSOPS_STORE=str(workdir / "ecsops.db"),
        )
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "ECSOPS_CRASH_AT"):
            env.pop(name, None)
        print(f"simulated AWS at {sim.url}; store {workdir / 'ecsops.db'} (time in the simulator is virtual)")
        failures = 0
        for title, args, expected in STEPS:
            _banner(title)
            print(f"$ ecsops {shlex.join(args)}", flush=True)
            code = subprocess.run([sys.executable, "-m", "ecsops", *args], env=env, check=False).returncode
            verdict = "as expected" if code == expected else f"UNEXPECTED (wanted {expected})"
            print(f"[exit {code}: {verdict}]", flush=True)
            failures += code != expected
        print(f"\nAWS calls seen by the simulator: {sim.counts()}")
        print(f"demo finished in {time.monotonic() - started:.1f}s wall time")
        print(f"to look at these runs in a browser: .venv/bin/ecsops ui --store {workdir / 'ecsops.db'}")
        return 1 if failures else 0
    finally:
        sim.stop()


if __name__ == "__main__":
    sys.exit(main())
