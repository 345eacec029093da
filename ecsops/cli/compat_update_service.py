"""`update-aws-ecs-service`: go-awsecs's flags (`-cluster x -container-image a=b`) translated to `ecsops deploy`."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

PROG = "update-aws-ecs-service"

# The original tool's flags, all of which take a value (Go's flag package: -name value, -name=value, --name).
GO_FLAGS = (
    "cluster",
    "service",
    "profile",
    "region",
    "taskdef",
    "desired-count",
    "task-role",
    "container-image",
    "container-envvar",
    "container-secret",
    "container-logopt",
    "container-logsecret",
    "timeout",
)
# ecsops deploy's own flags, accepted here too so CI scripts can add a run id or JSON output.
ECSOPS_VALUE_FLAGS = ("run-id", "output", "poll-interval", "wait-until", "max-failed-tasks")
ECSOPS_SWITCHES = ("no-rollback", "dry-run")
_FLAG = re.compile(r"^--?(?P<name>[A-Za-z][\w-]*)(?:=(?P<value>.*))?$", re.DOTALL)


class CompatUsageError(ValueError):
    pass


def translate(argv: Sequence[str]) -> list[str]:
    """The `ecsops deploy` arguments for go-awsecs arguments (plus ecsops's --run-id, --output...).

    As in the original, a negative `-desired-count` means "leave it unchanged".
    """
    translated: list[str] = []
    args = list(argv)
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        match = _FLAG.match(arg)
        if match is None:
            raise CompatUsageError(f"unexpected argument {arg!r}: every argument is a flag, e.g. -cluster NAME")
        name, value = match.group("name"), match.group("value")
        if name in ("h", "help"):
            return ["--help"]
        if name in ECSOPS_SWITCHES and value is None:
            translated.append(f"--{name}")
            continue
        if name not in GO_FLAGS + ECSOPS_VALUE_FLAGS:
            raise CompatUsageError(f"flag provided but not defined: -{name}")
        if value is None:
            if index >= len(args):
                raise CompatUsageError(f"flag needs an argument: -{name}")
            value = args[index]
            index += 1
        if name == "desired-count" and value.strip().lstrip("-").isdigit() and int(value) < 0:
            continue
        translated += [f"--{name}", value]
    return translated


def main(argv: Sequence[str] | None = None) -> None:
    from ecsops.cli.app import app

    try:
        arguments = translate(sys.argv[1:] if argv is None else argv)
    except CompatUsageError as exc:
        sys.stderr.write(f"{PROG}: {exc}\nflags: {' '.join('-' + name for name in GO_FLAGS)}\n")
        sys.exit(2)
    app(args=["deploy", *arguments], prog_name=PROG)


if __name__ == "__main__":
    main()
