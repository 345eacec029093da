"""`enforce-aws-ecs-asg-launchconfig`: go-awsecs's flags (-asg, -cluster, -profile, -region) on replace-instances."""

from __future__ import annotations

import argparse
import sys

# The original retried with cenkalti/backoff's default exponential back-off, which gives up after 15 minutes.
DEFAULT_TIMEOUT = "15m"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="enforce-aws-ecs-asg-launchconfig",
        description="Replace the ECS container instances of an Auto Scaling group whose launch configuration "
        "or launch template is out of date (runs `ecsops replace-instances`; resumable with `ecsops resume`).",
    )
    # Go's flag package accepts -name value, -name=value and --name; argparse does too with these spellings.
    parser.add_argument("-cluster", "--cluster", default="", help="cluster name")
    parser.add_argument("-asg", "--asg", default="", help="asg name")
    parser.add_argument("-profile", "--profile", default="", help="profile name")
    parser.add_argument("-region", "--region", default="", help="region name")
    return parser


def main(argv: list[str] | None = None) -> int:
    from ecsops.cli.replace_command import run_replace

    args = _parser().parse_args(argv)
    code = run_replace(
        asg=args.asg,
        cluster=args.cluster,
        batch_size=1,
        timeout=DEFAULT_TIMEOUT,
        poll_interval=None,
        dry_run=False,
        run_id=None,
        profile=args.profile or None,
        region=args.region or None,
        output="text",
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
