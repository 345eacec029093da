"""go-awsecs's command lines (`-cluster x -timeout 10m0s`): one flag table per command, its help and translation."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

# Go's flag package: -name value, -name=value, and the same with two dashes.
_FLAG = re.compile(r"^--?(?P<name>[A-Za-z][\w-]*)(?:=(?P<value>.*))?$", re.DOTALL)
_HELP = ("h", "help")
_TRUE = ("1", "t", "true")
_FALSE = ("0", "f", "false")


class CompatUsageError(ValueError):
    pass


@dataclass(frozen=True)
class Flag:
    """One flag as the compat command takes it (`-name`), and what `ecsops <command>` gets for it (`--name`)."""

    name: str
    metavar: str | None  # None: a switch, as Go's bool flags (`-dry-run`, `-dry-run=false`)
    usage: str
    required: bool = False
    # go-awsecs's -desired-count: a negative number (its default, -1) means "leave it unchanged".
    negative_means_unset: bool = False


@dataclass(frozen=True)
class CompatCommand:
    prog: str
    ecsops_command: str
    summary: str
    go_flags: tuple[Flag, ...]
    ecsops_flags: tuple[Flag, ...]
    exit_codes: str

    @property
    def flags(self) -> dict[str, Flag]:
        return {flag.name: flag for flag in (*self.go_flags, *self.ecsops_flags)}

    def translate(self, argv: Sequence[str]) -> list[str] | None:
        """The `ecsops <command>` arguments for these arguments; None when help was asked for."""
        flags = self.flags
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
            if name in _HELP:
                return None
            flag = flags.get(name)
            if flag is None:
                raise CompatUsageError(f"flag provided but not defined: -{name}")
            if flag.metavar is None:
                if value is None or value.lower() in _TRUE:
                    translated.append(f"--{name}")
                elif value.lower() not in _FALSE:
                    raise CompatUsageError(f"invalid boolean value {value!r} for -{name}: expected true or false")
                continue
            if value is None:
                if index >= len(args):
                    raise CompatUsageError(f"flag needs an argument: -{name}")
                value = args[index]
                index += 1
            if flag.negative_means_unset and re.fullmatch(r"\s*-\d+\s*", value):
                continue
            translated += [f"--{name}", value]
        return translated

    def check_required(self, translated: Sequence[str]) -> None:
        """Name the missing flags with one dash, as this command spells them."""
        missing = [f"-{flag.name}" for flag in self.go_flags if flag.required and f"--{flag.name}" not in translated]
        if missing:
            raise CompatUsageError(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required")

    def help_text(self) -> str:
        required = " ".join(f"-{flag.name} {flag.metavar}" for flag in self.go_flags if flag.required)
        lines = [
            f"Usage: {self.prog} {required} [flags]",
            "",
            self.summary,
            "",
            "Flags take one dash or two, and their value as `-flag value` or `-flag=value`.",
            "",
            "go-awsecs flags:",
            *_flag_lines(self.go_flags),
            "",
            f"ecsops {self.ecsops_command}'s flags, accepted here too:",
            *_flag_lines(self.ecsops_flags),
            "  -h, -help                 show this help",
            "",
            f"Exit codes: {self.exit_codes}",
        ]
        return "\n".join(lines) + "\n"

    def main(self, argv: Sequence[str] | None = None) -> NoReturn:
        from ecsops.cli.app import app

        help_hint = f"{self.prog} -help"
        try:
            arguments = self.translate(sys.argv[1:] if argv is None else argv)
            if arguments is None:
                sys.stdout.write(self.help_text())
                sys.exit(0)
            self.check_required(arguments)
        except CompatUsageError as exc:
            from ecsops.cli.usage import usage_error

            sys.exit(usage_error(str(exc), help_hint))
        app(args=[self.ecsops_command, *arguments], prog_name=self.prog, help_hint=help_hint)
        sys.exit(0)  # app() exits itself; this only satisfies NoReturn


def _flag_lines(flags: Sequence[Flag]) -> list[str]:
    lines = []
    for flag in flags:
        spelling = f"-{flag.name}" + (f" {flag.metavar}" if flag.metavar else "")
        usage = flag.usage + (" (required)" if flag.required else "")
        lines.append(f"  {spelling:<25} {usage}" if len(spelling) < 25 else f"  {spelling}\n  {'':<25} {usage}")
    return lines


RUN_FLAGS = (
    Flag("run-id", "ID", "idempotency key: resume that run if unfinished, print its result if finished"),
    Flag("output", "text|json", "json: one run document on stdout (progress stays on stderr)"),
    Flag("dry-run", None, "say what would change; read calls only"),
    Flag("store", "PATH", "the run store (default ~/.local/state/ecsops/ecsops.db, or ECSOPS_STORE)"),
)
