"""How ecsops answers a mistyped command line: one plain `error:` line (exit 2) with a hint, and tidy help."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from ecsops.cli import exit_codes

# The exception classes of the click that typer uses (vendored inside typer since 0.2x, plain click before).
_CLICK_EXCEPTIONS: Any = importlib.import_module(typer.BadParameter.__module__)

# The go-awsecs command that takes an ecsops command's flags with one dash, for the hint on `-cluster`.
COMPAT_COMMANDS = {
    "deploy": "update-aws-ecs-service",
    "replace-instances": "enforce-aws-ecs-asg-launchconfig",
}


class _HelpHint:
    """Which help to point a bad command line at: noted as the command line is read (one per process)."""

    override: str | None = None  # the compat commands' own (`update-aws-ecs-service -help`)
    command: str | None = None  # `ecsops deploy --help` once the command is known


HELP_HINT = _HelpHint()


def help_hint() -> str:
    """`ecsops deploy --help`, or the compat command's `-help`, for the command being run."""
    return HELP_HINT.override or HELP_HINT.command or "ecsops --help"


def usage_error(message: str, hint: str | None = None) -> int:
    """Bad input: one `error:` line on stderr naming what to fix and the help to read; returns exit code 2.

    Every usage error of ecsops and of the compat commands is said here: `error: MESSAGE (see 'HELP')`."""
    sys.stderr.write(f"error: {message} (see '{hint or help_hint()}')\n")
    return exit_codes.BAD_INPUT


def _note_command(ctx: Any, name: str | None) -> None:
    if name is not None:
        HELP_HINT.command = f"{ctx.command_path} {name} --help"


# One dash then a word (`-cluster`, `-desired-count=3`), as go-awsecs's flags are spelt; not `-1`, not `-o`.
_SINGLE_DASH_WORD = re.compile(r"^-(?P<name>[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)(?:=.*)?$", re.DOTALL)


class EcsopsArgument(TyperArgument):
    """A positional argument shown by its metavar alone (`RUN_ID`, not `{run_id} <str>`)."""

    __slots__ = ()

    def make_metavar(self, ctx: Any, *, usage: bool = False) -> str:
        name = self.metavar or (self.name or "").upper()
        return name if self.required or not usage else f"[{name}]"


class EcsopsOption(TyperOption):
    """An option whose value is named by its metavar; a switch shows no `<bool>`."""

    __slots__ = ()

    def make_metavar(self, ctx: Any) -> str:
        if self.metavar is not None:
            return self.metavar
        return (self.name or "value").upper()


def _switch(option: Any) -> Any:
    """`--help` is a switch: no `<bool>` beside it."""
    if option is not None and type(option) is TyperOption:
        option.__class__ = EcsopsOption
    return option


class EcsopsCommand(TyperCommand):
    __slots__ = ()

    def get_help_option(self, ctx: Any) -> Any:
        return _switch(super().get_help_option(ctx))


class EcsopsSubGroup(TyperGroup):
    __slots__ = ()

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        _note_command(ctx, name)
        return name, command, rest

    def get_help_option(self, ctx: Any) -> Any:
        return _switch(super().get_help_option(ctx))


class EcsopsGroup(TyperGroup):
    """The `ecsops` group: every usage error becomes one `error:` line on stderr with exit 2."""

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every command, sub-apps built elsewhere too (the simulator's may not import the cli), gets this help.
        _adopt(self)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        _note_command(ctx, name)
        if command is not None and name is not None and not ctx.resilient_parsing:
            reject_single_dash_words(command, name, rest, ctx)
        return name, command, rest

    def get_help_option(self, ctx: Any) -> Any:
        return _switch(super().get_help_option(ctx))

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        help_hint: str | None = None,
        **extra: Any,
    ) -> Any:
        """As click's main, but usage errors are printed our way. `help_hint` replaces `PROG CMD --help`."""
        arguments = list(sys.argv[1:] if args is None else args)
        HELP_HINT.override, HELP_HINT.command = help_hint, None
        try:
            result = super().main(
                args=arguments, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra
            )
            code = result if isinstance(result, int) else exit_codes.SUCCEEDED
        except _CLICK_EXCEPTIONS.NoArgsIsHelpError as exc:
            if exc.format_message():
                exc.show()
            code = exit_codes.BAD_INPUT
        except _CLICK_EXCEPTIONS.UsageError as exc:
            code = usage_error(describe_usage_error(exc), HELP_HINT.override or HELP_HINT.command or _help_command(exc))
        except _CLICK_EXCEPTIONS.ClickException as exc:
            sys.stderr.write(f"error: {exc.format_message()}\n")
            code = exc.exit_code
        except typer.Abort:
            sys.stderr.write("aborted\n")
            code = exit_codes.FAILED
        if standalone_mode:
            sys.exit(code)
        return code


def _adopt(command: Any) -> None:
    """Give a typer-built command (and its parameters, and its subcommands) ecsops's help rendering.

    typer builds these objects itself; switching their class to a subclass that only overrides how they are
    displayed is the one hook it leaves for commands added with `app.command()` and `app.add_typer()`.
    """
    if type(command) is TyperCommand:
        command.__class__ = EcsopsCommand
    elif type(command) is TyperGroup:
        command.__class__ = EcsopsSubGroup
    for param in getattr(command, "params", []):
        if type(param) is TyperOption:
            param.__class__ = EcsopsOption
        elif type(param) is TyperArgument:
            param.__class__ = EcsopsArgument
    for subcommand in getattr(command, "commands", {}).values():
        _adopt(subcommand)


def _help_command(exc: Any) -> str:
    ctx = exc.ctx
    return f"{ctx.command_path} --help" if ctx is not None else "ecsops --help"


def _param_name(param: Any) -> str:
    if getattr(param, "param_type_name", "") == "option":
        long_forms = [opt for opt in param.opts if opt.startswith("--")]
        return str((long_forms or list(param.opts))[0])
    return str(param.metavar or (param.name or "argument").upper())


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() or len(text) == 1 else text


def describe_usage_error(exc: Any) -> str:
    """One line saying what is wrong, in ecsops's words (click's words lower-cased where they remain)."""
    if isinstance(exc, _CLICK_EXCEPTIONS.MissingParameter) and exc.param is not None:
        return f"{_param_name(exc.param)} is required"
    if isinstance(exc, _CLICK_EXCEPTIONS.BadParameter) and exc.param is not None:
        return f"{_param_name(exc.param)}: {_lower_first(exc.message.rstrip('.'))}"
    if isinstance(exc, _CLICK_EXCEPTIONS.NoSuchOption):
        message = f"no such option {exc.option_name}"
        if exc.possibilities:
            message += f"; did you mean {' or '.join(sorted(exc.possibilities))}?"
        return message
    return _lower_first(exc.format_message().rstrip(".").replace(". Did you mean", "; did you mean"))


def _options(command: Any) -> dict[str, Any]:
    """The command's options by each of their spellings (`--cluster`, `-o`)."""
    return {
        spelling: param
        for param in getattr(command, "params", [])
        if getattr(param, "param_type_name", "") == "option"
        for spelling in (*param.opts, *param.secondary_opts)
    }


def reject_single_dash_words(command: Any, name: str, args: Sequence[str], ctx: Any) -> None:
    """`ecsops deploy -cluster x` fails with a hint, instead of click reading `-c` `-l` `-u`...

    Only a word that is one of the command's own long options (`--cluster`) with one dash is caught, and
    only where an option's name is expected (not as the value of the option before it).
    """
    options = _options(command)
    expects_value = False
    for arg in args:
        if expects_value:
            expects_value = False
            continue
        if arg == "--":
            return
        option = options.get(arg.split("=", 1)[0])
        if option is not None:
            expects_value = not option.is_flag and "=" not in arg
            continue
        match = _SINGLE_DASH_WORD.match(arg)
        if match is None or f"--{match.group('name')}" not in options:
            continue
        flag = arg.split("=", 1)[0]
        message = f"no such option {flag}: ecsops's flags take two dashes, did you mean -{flag}?"
        compat = COMPAT_COMMANDS.get(name)
        if compat:
            message += f" (or {compat}, which takes go-awsecs's single-dash flags as they are)"
        raise _CLICK_EXCEPTIONS.UsageError(message, ctx=ctx)
