"""`enforce-aws-ecs-asg-launchconfig`: go-awsecs's flags (-asg, -cluster, ...) translated to `replace-instances`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from ecsops.cli.compat import RUN_FLAGS, CompatCommand, Flag

COMMAND = CompatCommand(
    prog="enforce-aws-ecs-asg-launchconfig",
    ecsops_command="replace-instances",
    summary="Replace the ECS container instances of an Auto Scaling group whose launch configuration or launch\n"
    "template is out of date, with go-awsecs's flags: runs `ecsops replace-instances`, so the run is recorded\n"
    "and a killed one continues with `ecsops resume RUN_ID`.",
    go_flags=(
        Flag("asg", "NAME", "Auto Scaling group name", required=True),
        Flag("cluster", "NAME", "ECS cluster name its instances register in", required=True),
        Flag("profile", "NAME", "AWS profile"),
        Flag("region", "REGION", "AWS region"),
    ),
    ecsops_flags=(
        Flag("batch-size", "N", "instances replaced at once (default 1)"),
        # go-awsecs retried with cenkalti/backoff's default exponential back-off, which gives up after 15 minutes.
        Flag("timeout", "DURATION", "per instance, from detach to drained: 90s, 10m0s, 1h30m (default 15m)"),
        Flag("poll-interval", "DURATION", "time between polls, 0 allowed (default adaptive, 2s to 15s)"),
        *RUN_FLAGS,
    ),
    exit_codes="0 succeeded, 1 failed (each instance that needs a person is named), 2 bad input (nothing\n"
    "changed), 5 group locked by another run, 130 interrupted (resumable).",
)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    COMMAND.main(argv)


if __name__ == "__main__":
    main()
