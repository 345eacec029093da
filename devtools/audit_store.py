"""A run store filled by real runs against the simulator's `bluegreen` scenario, for the ui's browser tests and its
screenshots: a good deploy, a rolled-back one, a blue/green one, a fleet, a replacement of instances, and a run whose
recorded texts are hostile HTML."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOSTILE_REASON = "<script>alert(1)</script>"
HOSTILE_ENV = "<img src=x onerror=alert(2)>"


@dataclass(frozen=True)
class AuditRun:
    """One ecsops command, the exit code it must end with, and environment it needs besides the simulator's."""

    run_id: str
    argv: tuple[str, ...]
    exit_code: int = 0
    env: Mapping[str, str] = field(default_factory=dict)


WEB = ("--cluster", "demo", "--service", "web")
AUDIT_RUNS: tuple[AuditRun, ...] = (
    AuditRun("ui-good", ("deploy", *WEB, "--container-image", "app=nginx:1.27",
                         "--container-envvar", f"app=BANNER={HOSTILE_ENV}", "--desired-count", "3",
                         "--poll-interval", "5", "--run-id", "ui-good"),
             env={"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "alice", "GITHUB_REPOSITORY": "acme/shop",
                  "GITHUB_RUN_ID": "4242", "GITHUB_WORKFLOW": "release"}),
    AuditRun("ui-broken", ("deploy", *WEB, "--container-image", "app=nginx:broken", "--poll-interval", "5",
                           "--timeout", "10m", "--run-id", "ui-broken"), exit_code=3),
    AuditRun("ui-bluegreen", ("deploy", "--cluster", "demo", "--service", "bg", "--container-image",
                              "app=nginx:1.27", "--run-id", "ui-bluegreen")),
    AuditRun("ui-fleet", ("deploy-fleet", str(ROOT / "docs/examples/release.toml"), "--max-parallel", "2",
                          "--run-id", "ui-fleet")),
    AuditRun("ui-replace", ("replace-instances", "--asg", "demo-asg", "--cluster", "demo", "--poll-interval", "0",
                            "--run-id", "ui-replace")),
    # Killed (SIGKILL) as it starts to wait, then abandoned by a person whose reason is an HTML tag.
    AuditRun("ui-hostile", ("deploy", *WEB, "--container-image", "app=nginx:1.28", "--poll-interval", "5",
                            "--run-id", "ui-hostile"), exit_code=-9, env={"ECSOPS_CRASH_AT": "enter:waiting"}),
    AuditRun("ui-hostile", ("abandon", "ui-hostile", "--reason", HOSTILE_REASON)),
)


def fill_audit_store(run: Callable[[AuditRun], int]) -> None:
    """Run every AUDIT_RUNS command through `run` (which returns its exit code), in order, on a simulator reset to
    the `bluegreen` scenario; AssertionError when one ends otherwise than expected."""
    for audit_run in AUDIT_RUNS:
        code = run(audit_run)
        assert code == audit_run.exit_code, f"`ecsops {' '.join(audit_run.argv)}` exited {code}, not " \
                                            f"{audit_run.exit_code}"
