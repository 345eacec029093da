"""`update-aws-ecs-service`: go-awsecs's flags (`-cluster x -container-image a=b`) translated to `ecsops deploy`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from ecsops.cli.compat import RUN_FLAGS, CompatCommand, CompatUsageError, Flag

__all__ = ["COMMAND", "CompatUsageError", "main", "translate"]

COMMAND = CompatCommand(
    prog="update-aws-ecs-service",
    ecsops_command="deploy",
    summary="Deploy to an ECS service with go-awsecs's flags: runs `ecsops deploy`, so the run is recorded and a\n"
    "killed one continues with `ecsops resume RUN_ID`.",
    go_flags=(
        Flag("cluster", "NAME", "ECS cluster name or ARN", required=True),
        Flag("service", "NAME", "ECS service name or ARN", required=True),
        Flag("container-image", "NAME=IMAGE", "set a container's image; repeatable"),
        Flag("container-envvar", "NAME=KEY=VALUE", "set an environment variable (an empty VALUE removes it)"),
        Flag("container-secret", "NAME=KEY=VALUEFROM", "set a secret (an empty VALUEFROM removes it)"),
        Flag("container-logopt", "NAME=DRIVER=OPTION=VALUE", "set a log driver option"),
        Flag("container-logsecret", "NAME=DRIVER=OPTION=VALUEFROM", "set a log driver secret option"),
        Flag("task-role", "ARN|None", "set the task role (arn:aws:iam::ACCOUNT:role/NAME); None clears it"),
        Flag("taskdef", "FAMILY[:REV]|ARN", "edit this task definition instead of the service's current one"),
        Flag("desired-count", "N", "desired count; a negative N (go-awsecs's default, -1) leaves it unchanged",
             negative_means_unset=True),
        Flag("timeout", "DURATION", "how long to wait, then roll back: 90s, 10m0s, 1h30m, 500ms (default 15m0s, "
             "plus the bake times of a BLUE_GREEN, LINEAR or CANARY service)"),
        Flag("profile", "NAME", "AWS profile"),
        Flag("region", "REGION", "AWS region"),
    ),
    ecsops_flags=(
        Flag("poll-interval", "DURATION", "time between polls, 0 allowed (default adaptive, 2s to 6s)"),
        Flag("wait-until", "primary-rolled|draining-started", "what done means (default primary-rolled)"),
        Flag("max-failed-tasks", "N", "fail once N tasks of our deployment failed (default ECS's threshold; 0: off)"),
        Flag("rollback-timeout", "DURATION", "how long the rollback may take, from its start (default: -timeout)"),
        Flag("no-rollback", None, "on failure or timeout leave the failed deployment in place, exit 1"),
        Flag("on-pause", "wait|exit", "at a PAUSE lifecycle hook: wait for `ecsops approve`, or exit 7 (default wait)"),
        *RUN_FLAGS,
    ),
    exit_codes="0 succeeded, 1 failed, 2 bad input (nothing changed), 3 rolled back, 4 rollback failed,\n"
    "5 service locked by another run, 6 superseded by another deployment, 7 paused at a lifecycle hook\n"
    "(-on-pause exit), 130 interrupted (resumable).",
)


def translate(argv: Sequence[str]) -> list[str]:
    """The `ecsops deploy` arguments for go-awsecs arguments (`["--help"]` when help was asked for)."""
    arguments = COMMAND.translate(argv)
    return ["--help"] if arguments is None else arguments


def main(argv: Sequence[str] | None = None) -> NoReturn:
    COMMAND.main(argv)


if __name__ == "__main__":
    main()
