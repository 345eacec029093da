"""What a person sees on a mistyped command line and in --help: one `error:` line, hints, tidy help."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cli_helpers import PROG_NAME, Result, run_ecsops, run_example, run_module
from typer.testing import CliRunner

from ecsops.cli.app import app

WIDE = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
BOX = re.compile("[╭╮╰╯│─]")


def help_of(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    return result.stdout


def compat(module: str, store: Path, *args: str) -> Result:
    return run_module(f"ecsops.cli.{module}", store, *args)


def assert_one_error_line(result: Result, *fragments: str) -> None:
    """Exit 2, nothing on stdout, exactly one plain `error:` line on stderr (no rich box) with a --help hint."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert not BOX.search(result.stderr)
    # It ends with a hint to an ecsops command's two-dash help (single-dash -help is the compat commands' own).
    assert re.fullmatch(rf"error: .+ \(see '{re.escape(PROG_NAME)}( [a-z-]+)* --help'\)", lines[0]), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# Item 18: one error style, whoever finds the mistake (click's parser, typer's types, ecsops's own checks).
@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["deploy", "--cluster", "demo", "--service", "web", "--desired-count", "abc"],
         ["--desired-count 'abc'", "whole number"]),
        (["runs", "--limit", "0"], ["--limit", "ecsops runs --help"]),
        (["status"], ["RUN_ID is required", "ecsops status --help"]),
        (["deploy", "--service", "web"], ["--cluster is required", "ecsops deploy --help"]),
        (["runs", "--bogus"], ["no such option --bogus", "ecsops runs --help"]),
        (["runs", "--limt", "3"], ["no such option --limt", "did you mean --limit"]),
        (["depoy"], ["no such command 'depoy'", "did you mean 'deploy'", "ecsops --help"]),
        (["replace-instances", "--asg", "a", "--cluster", "c", "--batch-size", "many"], ["--batch-size"]),
        (["status", "a", "b"], ["unexpected extra argument"]),
    ],
    ids=["typer-int", "typer-range", "missing-argument", "missing-option", "unknown-option", "typo-option",
         "unknown-command", "replace-int", "extra-argument"],
)
def test_usage_errors_are_one_plain_line_with_a_help_hint(
    tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    assert_one_error_line(run_ecsops(tmp_path / "s.db", *args), *fragments)
    assert not (tmp_path / "s.db").exists()  # nothing was recorded, not even a store created


def test_the_same_style_through_cli_runner() -> None:
    result = CliRunner().invoke(app, ["runs", "--limit", "0"], env=WIDE)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --limit") and not BOX.search(result.stderr)


# Item 17: go-awsecs spelling on ecsops commands gets a hint; --store is accepted after the command.
@pytest.mark.parametrize(
    ("args", "wanted", "compat_command"),
    [
        (["deploy", "-cluster", "demo", "-service", "web"], "--cluster", "update-aws-ecs-service"),
        (["deploy", "--cluster", "demo", "--service", "web", "-desired-count=3"], "--desired-count",
         "update-aws-ecs-service"),
        (["deploy", "--cluster", "demo", "--service", "web", "-output", "json"], "--output", "update-aws-ecs-service"),
        (["replace-instances", "-asg", "demo-asg", "-cluster", "demo"], "--asg", "enforce-aws-ecs-asg-launchconfig"),
    ],
)
def test_single_dash_flags_point_at_two_dashes_and_the_compat_command(
    tmp_path: Path, args: list[str], wanted: str, compat_command: str
) -> None:
    result = run_ecsops(tmp_path / "s.db", *args)
    assert_one_error_line(result, f"did you mean {wanted}?", compat_command)


def test_a_value_that_starts_with_a_dash_is_not_taken_for_a_flag(tmp_path: Path) -> None:
    result = run_ecsops(tmp_path / "s.db", "abandon", "nope", "--reason", "-output")
    assert result.returncode == 2
    assert "two dashes" not in result.stderr and "nope" in result.stderr


def test_store_is_accepted_after_the_command_name(tmp_path: Path) -> None:
    default, chosen = tmp_path / "default.db", tmp_path / "chosen.db"
    run_example(chosen, tmp_path / "a.json", "fake:a", "run-1")

    listed = run_ecsops(default, "runs", "--store", str(chosen), "--output", "json")
    assert listed.returncode == 0, listed.stderr
    assert [d["run_id"] for d in listed.json()] == ["run-1"]
    status = run_ecsops(default, "status", "run-1", "--store", str(chosen))
    assert status.returncode == 0 and "status    succeeded" in status.stdout
    # Before the command name, as before; after it wins over the one before.
    assert run_ecsops(default, "--store", str(chosen), "runs", "--output", "json").json()[0]["run_id"] == "run-1"
    other = tmp_path / "other.db"
    assert run_ecsops(default, "--store", str(other), "runs", "--store", str(chosen), "-o", "json").json() != []
    assert not default.exists() and not other.exists()
    for command in (["deploy"], ["replace-instances"], ["resume"], ["abandon"], ["status"], ["runs"]):
        assert "--store" in help_of(*command)


# Item 19: help text.
COMMANDS = [["deploy"], ["replace-instances"], ["runs"], ["status"], ["resume"], ["abandon"], ["machines"],
            ["machines", "show"], ["sim"], ["sim", "serve"], ["ui"], ["deploy-fleet"], ["approve"], []]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "ecsops")
def test_help_shows_no_type_placeholders_or_braced_arguments(command: list[str]) -> None:
    text = help_of(*command)
    assert not re.search(r"<(bool|str|int|float)>", text), text
    assert "{" not in text.split("\n\n")[0] + text[:400], text
    assert "{run_id}" not in text


def test_help_names_arguments_outputs_and_required_flags() -> None:
    assert "Usage: ecsops status [OPTIONS] RUN_ID" in help_of("status")
    assert "Usage: ecsops resume [OPTIONS] RUN_ID" in help_of("resume")
    for command in (["deploy"], ["replace-instances"], ["runs"], ["status"], ["resume"], ["abandon"]):
        assert re.search(r"(-o, )?--output(\s+-o)?\s+text\|json", help_of(*command)), command
    deploy = help_of("deploy")
    for flag in ("--cluster", "--service"):
        line = next(line for line in deploy.splitlines() if f" {flag} " in line)
        assert "[required]" in line, line
    replace = help_of("replace-instances")
    poll = next(line for line in replace.splitlines() if "--poll-interval" in line)
    assert " ." not in poll and "DURATION" in poll


# Item 23: machines.
def test_machines_rows_are_aligned_and_described(tmp_path: Path) -> None:
    listed = run_ecsops(tmp_path / "s.db", "machines")
    assert listed.returncode == 0
    rows = listed.stdout.splitlines()
    names = [row.split()[0] for row in rows]
    assert "replace-instances.instance" in names and "deploy" in names
    assert len({row.index(" version ") for row in rows}) == 1, rows
    for row in rows:
        assert len(row.split("  version ")[1].split(None, 1)) == 2, f"no description: {row!r}"


def test_machines_show_takes_the_listed_item_name(tmp_path: Path) -> None:
    dotted = run_ecsops(tmp_path / "s.db", "machines", "show", "replace-instances.instance")
    flagged = run_ecsops(tmp_path / "s.db", "machines", "show", "replace-instances", "--item")
    assert dotted.returncode == 0, dotted.stderr
    assert dotted.stdout == flagged.stdout and "replace-instances.instance (" in dotted.stdout
    unknown = run_ecsops(tmp_path / "s.db", "machines", "show", "replace-instances.nope")
    assert unknown.returncode == 2 and "replace-instances.instance" in unknown.stderr


# Item 16: the compat commands' help is in their own spelling, and the two look alike.
@pytest.mark.parametrize(
    ("module", "prog", "required", "flags"),
    [
        ("compat_update_service", "update-aws-ecs-service", "-cluster NAME -service NAME",
         ["-container-image NAME=IMAGE", "-desired-count N", "-timeout DURATION", "-run-id ID", "-no-rollback"]),
        ("compat_enforce_launchconfig", "enforce-aws-ecs-asg-launchconfig", "-asg NAME -cluster NAME",
         ["-profile NAME", "-region REGION", "-run-id ID", "-dry-run"]),
    ],
)
@pytest.mark.parametrize("asked", ["--help", "-help", "-h"])
def test_compat_help_shows_single_dash_flags(
    tmp_path: Path, module: str, prog: str, required: str, flags: list[str], asked: str
) -> None:
    result = compat(module, tmp_path / "s.db", asked)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith(f"Usage: {prog} {required} [flags]\n")
    for section in ("go-awsecs flags:", "accepted here too:", "Exit codes:"):
        assert section in text
    for flag in flags:
        assert f"  {flag}" in text, flag
    assert not re.search(r"(^|\s)--[a-z]", text.replace("`-flag value`", "")), text
    assert "ecsops deploy [OPTIONS]" not in text and "╭" not in text


def test_compat_help_says_what_a_negative_desired_count_means(tmp_path: Path) -> None:
    text = compat("compat_update_service", tmp_path / "s.db", "-help").stdout
    line = next(line for line in text.splitlines() if "-desired-count" in line)
    assert "negative" in line and "unchanged" in line


@pytest.mark.parametrize(
    ("module", "args", "fragments"),
    [
        ("compat_update_service", ["-cluster", "demo"], ["-service is required", "update-aws-ecs-service -help"]),
        ("compat_update_service", ["-cluster", "x", "-service", "y", "-image", "z"],
         ["flag provided but not defined: -image"]),
        ("compat_update_service", ["-cluster", "x", "-service", "y", "-timeout", "soon"],
         ["--timeout", "'10m0s'", "update-aws-ecs-service -help"]),
        ("compat_enforce_launchconfig", ["-cluster", "prod"], ["-asg is required"]),
        ("compat_enforce_launchconfig", ["-asg", "a", "-cluster", "c", "-batch-size", "x"],
         ["--batch-size", "enforce-aws-ecs-asg-launchconfig -help"]),
    ],
)
def test_compat_errors_are_one_line_pointing_at_their_own_help(
    tmp_path: Path, module: str, args: list[str], fragments: list[str]
) -> None:
    result = compat(module, tmp_path / "s.db", *args)
    assert result.returncode == 2, result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("error: ")], result.stderr
    error = next(line for line in result.stderr.splitlines() if line.startswith("error: "))
    for fragment in fragments:
        assert fragment in error, (fragment, error)
    assert not BOX.search(result.stderr)
