"""Read a deploy-fleet file (TOML) into FleetParams: no AWS call; every fault found is reported at once.

Each `[[service]]` table takes `ecsops deploy`'s flags without the dashes, parsed by deploy's own flag parser; the
keys at the top of the file are defaults for every service. A fault is one line, `FILE:LINE: service NAME: what`
(NAME is the service's `service` value, or `#N`, counted from 1, when it has none), `FILE:LINE: what` or
`FILE: what` for the file as a whole; a bad command-line flag is `--flag ...: what` (it is not in the file).
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ecsops.aws.arns import InvalidName, ecs_cluster_reference, ecs_service_reference
from ecsops.deploy.preflight import DeployFlags, PreflightError, parse_flags
from ecsops.fleet.params import ON_FAILURE_CHOICES, FleetParams, FleetService

Kind = Literal["string", "strings", "integer", "boolean", "duration"]


@dataclass(frozen=True)
class FleetOptions:
    """deploy-fleet's command-line flags that shape what is read from the file."""

    max_parallel: int | None = None
    on_failure: str = "rollback-failed"
    timeout: str | None = None
    rollback_timeout: str | None = None
    profile: str | None = None
    region: str | None = None


class FleetInputError(ValueError):
    """The fleet file or flags are wrong: `faults` says what, one line each. Nothing was read from AWS."""

    def __init__(self, faults: Sequence[str]) -> None:
        self.faults = list(faults)
        super().__init__("\n".join(self.faults))


@dataclass(frozen=True)
class _Key:
    flag: str  # the DeployFlags field it sets
    kind: Kind


# Every key of a [[service]] table: deploy's flags without the dashes (profile, region and poll-interval aside).
SERVICE_KEYS: dict[str, _Key] = {
    "service": _Key("service", "string"),
    "cluster": _Key("cluster", "string"),
    "container-image": _Key("images", "strings"),
    "container-envvar": _Key("envvars", "strings"),
    "container-secret": _Key("secrets", "strings"),
    "container-logopt": _Key("logopts", "strings"),
    "container-logsecret": _Key("logsecrets", "strings"),
    "task-role": _Key("task_role", "string"),
    "desired-count": _Key("desired_count", "integer"),
    "taskdef": _Key("taskdef", "string"),
    "wait-until": _Key("wait_until", "string"),
    "timeout": _Key("timeout", "duration"),
    "rollback-timeout": _Key("rollback_timeout", "duration"),
    "max-failed-tasks": _Key("max_failed_tasks", "integer"),
    "on-pause": _Key("on_pause", "string"),
    "no-rollback": _Key("no_rollback", "boolean"),
}
# The keys at the top of the file: defaults for every service (not per container), and the fleet's poll interval.
TOP_KEYS: dict[str, _Key] = {
    **{key: spec for key, spec in SERVICE_KEYS.items() if key != "service" and not key.startswith("container-")},
    "poll-interval": _Key("poll_interval", "duration"),
}
# Keys in the wrong place, or flags that are not keys of the file: why, rather than "unknown key".
_SESSION_HINT = ("not a key of the file: set --profile/--region on the command line (one AWS session serves the "
                 "whole fleet)")
_MISPLACED_IN_SERVICE = {
    "poll-interval": "poll-interval is fleet-level: set it at the top of the file (one poll loop serves the whole "
    "fleet)",
}
_MISPLACED_AT_TOP = {
    **{key: f"{key} is per service: set it in each [[service]] table" for key in SERVICE_KEYS
       if key.startswith("container-")},
}
_NOT_KEYS = {
    "profile": f"profile is {_SESSION_HINT}",
    "region": f"region is {_SESSION_HINT}",
    **{flag: f"{flag} is a command-line flag of deploy-fleet (--{flag}), not a key of the file"
       for flag in ("max-parallel", "on-failure", "run-id", "dry-run", "output", "store")},
}
_TOML_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"), (int, "integer"), (float, "float"), (str, "string"), (list, "array"), (dict, "table"),
)
_EXPECTED = {
    "string": "a string",
    "strings": 'a string or an array of strings, e.g. ["app=repo/shop:v42"]',
    "integer": "a whole number, e.g. 4",
    "boolean": "true or false",
    "duration": 'a duration, e.g. "20m" or "90s" (or a number of seconds)',
}
_TOML_LINE = re.compile(r"at line (\d+)")
_FLAG_IN_MESSAGE = re.compile(r"^--([a-z-]+)")


def read_fleet(path: str, options: FleetOptions) -> FleetParams:
    """The fleet's params as typed (cluster and service not yet resolved), or FleetInputError with every fault
    found in the flags and the file. Makes no AWS call."""
    reader = _Reader(path, options)
    params = reader.read()
    if reader.found or params is None:
        raise FleetInputError(reader.faults)
    return params


@dataclass
class _Reader:
    path: str
    options: FleetOptions
    # (line, fault): the command line's first (line 0), then the file's in the order of its lines.
    found: list[tuple[int, str]] = field(default_factory=list)
    lines: _Lines | None = None
    text: str = ""

    # ---- faults ---------------------------------------------------------------------------------------------
    @property
    def faults(self) -> list[str]:
        return [fault for _, fault in sorted(self.found, key=lambda found: found[0])]

    def flag_fault(self, what: str) -> None:
        self.found.append((0, what))

    def file_fault(self, what: str, line: int | None = None) -> None:
        self.found.append((line or 0, f"{self.path}:{line}: {what}" if line is not None else f"{self.path}: {what}"))

    def service_fault(self, line: int, name: str, what: str) -> None:
        self.found.append((line, f"{self.path}:{line}: service {name}: {key_message(what)}"))

    # ---- the whole read ----------------------------------------------------------------------------------------
    def read(self) -> FleetParams | None:
        overrides = self.command_line()
        document = self.load()
        if document is None:
            return None
        self.lines = _Lines(self.text)
        defaults, poll_interval = self.top_level(document)
        tables = self.service_tables(document)
        services = self.services(tables, defaults, overrides)
        if self.found:
            return None
        return FleetParams(
            file=self.path,
            services=tuple(services),
            max_parallel=self.options.max_parallel,
            on_failure=self.options.on_failure,  # type: ignore[arg-type]  # checked against ON_FAILURE_CHOICES
            poll_interval=poll_interval,
            profile=self.options.profile or None,
            region=self.options.region or None,
        )

    def command_line(self) -> dict[str, str]:
        """deploy-fleet's own flags checked; the --timeout/--rollback-timeout that override every service's."""
        options = self.options
        if options.max_parallel is not None and options.max_parallel < 1:
            self.flag_fault(f"--max-parallel {options.max_parallel}: must be 1 or more")
        if options.on_failure not in ON_FAILURE_CHOICES:
            self.flag_fault(
                f"--on-failure {options.on_failure!r}: expected one of {', '.join(ON_FAILURE_CHOICES)}"
            )
        overrides: dict[str, str] = {}
        for flag, value in (("timeout", options.timeout), ("rollback_timeout", options.rollback_timeout)):
            if value is None:
                continue
            problem = _flag_problem(flag, value)
            if problem is not None:
                self.flag_fault(problem)  # reported once, not once per service: the file's value stands in
            else:
                overrides[flag] = value
        return overrides

    def load(self) -> dict[str, Any] | None:
        try:
            raw = Path(self.path).read_bytes()
        except OSError as exc:
            self.file_fault(f"cannot read the fleet file: {exc.strerror or exc}")
            return None
        try:
            self.text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.file_fault(f"not UTF-8 text (byte {exc.start}): a fleet file is TOML")
            return None
        try:
            return tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            found = _TOML_LINE.search(str(exc))
            self.file_fault(f"not valid TOML: {exc}", int(found.group(1)) if found else None)
            return None

    # ---- the top of the file -----------------------------------------------------------------------------------
    def top_level(self, document: dict[str, Any]) -> tuple[dict[str, Any], float | None]:
        """The defaults for every service (bad ones reported here once and left out) and the poll interval."""
        assert self.lines is not None
        defaults: dict[str, Any] = {}
        poll_interval: float | None = None
        for key, value in document.items():
            if key == "service":
                continue
            line = self.lines.top_key(key)
            problem = self.misplaced(key, TOP_KEYS, _MISPLACED_AT_TOP)
            if problem is None:
                spec = TOP_KEYS[key]
                converted, problem = _convert(key, spec.kind, value)
                if problem is None:
                    problem = _value_problem(spec.flag, converted)
                if problem is None and spec.flag == "poll_interval":
                    poll_interval = parse_flags(
                        DeployFlags(cluster="c", service="s", poll_interval=converted)
                    ).poll_interval
                elif problem is None:
                    defaults[spec.flag] = converted
            if problem is not None:
                self.file_fault(key_message(problem), line)
        return defaults, poll_interval

    def misplaced(self, key: str, allowed: Mapping[str, _Key], misplaced: Mapping[str, str]) -> str | None:
        if key in allowed:
            return None
        if key in misplaced:
            return misplaced[key]
        if key in _NOT_KEYS:
            return _NOT_KEYS[key]
        nearest = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
        hint = f"; did you mean {nearest[0]!r}?" if nearest else f"; known keys: {', '.join(allowed)}"
        return f"unknown key {key!r}{hint}"

    def service_tables(self, document: dict[str, Any]) -> list[tuple[int, Any]]:
        """(header line, table) of each [[service]], in file order."""
        assert self.lines is not None
        tables = document.get("service")
        if isinstance(tables, dict):
            self.file_fault("[service] is a single table: write each service as a [[service]] table",
                            self.lines.first_table("service"))
            return []
        if tables is not None and not (isinstance(tables, list) and all(isinstance(t, dict) for t in tables)):
            self.file_fault(f"service = {_shown(tables)}: each service is a [[service]] table of its own",
                            self.lines.top_key("service"))
            return []
        if not tables:
            self.file_fault("no [[service]] table: nothing to deploy (each service is a [[service]] table with "
                            "at least `service = \"NAME\"`)")
            return []
        headers = self.lines.service_headers()
        return [(headers[n] if n < len(headers) else self.lines.fallback_line(), table)
                for n, table in enumerate(tables)]

    # ---- the services ------------------------------------------------------------------------------------------
    def services(
        self, tables: list[tuple[int, Any]], defaults: dict[str, Any], overrides: dict[str, str]
    ) -> list[FleetService]:
        assert self.lines is not None
        services: list[FleetService] = []
        seen: dict[tuple[str, str], int] = {}
        for index, (line, table) in enumerate(tables):
            typed = table.get("service")
            name = typed.strip() if isinstance(typed, str) and typed.strip() else f"#{index + 1}"
            given: dict[str, Any] = {}
            clean = True
            for key, value in table.items():
                key_line = self.lines.service_key(index, key) or line
                problem = self.misplaced(key, SERVICE_KEYS, _MISPLACED_IN_SERVICE)
                if problem is None:
                    spec = SERVICE_KEYS[key]
                    converted, problem = _convert(key, spec.kind, value)
                    if problem is None:
                        problem = _value_problem(spec.flag, converted)
                    if problem is None:
                        given[spec.flag] = converted
                if problem is not None:
                    self.service_fault(key_line, name, problem)
                    clean = False
            if "service" not in table:
                self.service_fault(line, name, "no `service` key: the ECS service name or ARN to deploy")
                clean = False
            flags = {**defaults, **given, **overrides}
            if "cluster" not in flags and "cluster" not in table:
                self.service_fault(line, name, "no cluster: set `cluster` in this [[service]] table or at the top "
                                   "of the file")
                clean = False
            if isinstance(flags.get("cluster"), str) and isinstance(flags.get("service"), str):
                identity = (flags["cluster"].strip(), flags["service"].strip())
                if identity in seen:
                    self.service_fault(line, name, f"{identity[0]}/{identity[1]} is listed twice: also at line "
                                       f"{seen[identity]}")
                    clean = False
                else:
                    seen[identity] = line
            if not clean:
                continue  # a key left out for its fault would make the whole parse report what is not wrong
            try:
                params = parse_flags(DeployFlags(**{
                    "cluster": None, "service": None, **flags,
                    "profile": self.options.profile, "region": self.options.region,
                }))
            except PreflightError as exc:
                self.service_fault(self.fault_line(index, line, str(exc), given), name, str(exc))
                continue
            services.append(FleetService(index=index, line=line, params=params))
        return services

    def fault_line(self, index: int, header: int, message: str, given: Mapping[str, Any]) -> int:
        """The line of the key a parse error names, when this service sets it; else its header's line."""
        assert self.lines is not None
        found = _FLAG_IN_MESSAGE.match(message)
        if found and found.group(1) in SERVICE_KEYS and SERVICE_KEYS[found.group(1)].flag in given:
            return self.lines.service_key(index, found.group(1)) or header
        return header


def key_message(message: str) -> str:
    """deploy's message about a flag, about the file's key: `--container-image 'app': ...` -> `container-image...`"""
    found = _FLAG_IN_MESSAGE.match(message)
    if found and found.group(1) in SERVICE_KEYS | TOP_KEYS:
        return message.removeprefix("--")
    return message


def _flag_problem(flag: str, value: Any) -> str | None:
    """deploy's own parse of one flag alone (on a placeholder service): its message, or None when good."""
    try:
        parse_flags(replace(DeployFlags(cluster="c", service="s"), **{flag: value}))
    except PreflightError as exc:
        return str(exc)
    return None


def _value_problem(flag: str, value: Any) -> str | None:
    """One key's value checked alone, as deploy checks its flag; what depends on other keys is checked later."""
    try:
        if flag == "cluster":
            ecs_cluster_reference(value.strip())
        elif flag == "service":
            ecs_service_reference(value.strip())
        else:
            return _flag_problem(flag, value)
    except InvalidName as exc:
        return str(exc)
    return None


def _convert(key: str, kind: Kind, value: Any) -> tuple[Any, str | None]:
    """The value as DeployFlags takes it, or a fault naming the key, what it takes and what it got."""
    if kind == "strings" and isinstance(value, str):
        return (value,), None
    if kind == "strings" and isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value), None
    if kind == "string" and isinstance(value, str):
        if key in ("service", "cluster") and not value.strip():
            return value, f"{key} is empty: expected the ECS {key} name or ARN"
        return value, None
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value, None
    if kind == "boolean" and isinstance(value, bool):
        return value, None
    if kind == "duration" and isinstance(value, str):
        return value, None
    if kind == "duration" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value), None
    return value, f"{key} = {_shown(value)}: expected {_EXPECTED[kind]}, not {_type_name(value)}"


def _type_name(value: Any) -> str:
    for python_type, name in _TOML_TYPES:
        if isinstance(value, python_type):
            return f"an {name}" if name[0] in "aeiou" else f"a {name}"
    return "a date/time"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


# A table header: `[name]` or `[[name]]`; a key: its first (bare or quoted) component before `=` or `.`.
_HEADER = re.compile(r"^\s*(\[\[?)\s*(?:([A-Za-z0-9_-]+)|\"([^\"\\]*)\"|'([^']*)')\s*[\].]")
_KEY = re.compile(r"^\s*(?:([A-Za-z0-9_-]+)|\"([^\"\\]*)\"|'([^']*)')\s*[=.]")
_TRIPLE_QUOTES = ('"""', "'''")


class _Lines:
    """Where tables and keys are in the file's text: tomllib gives values, not lines.

    A scan of lines, not a TOML parser: lines inside multi-line strings (\"\"\" or ''') are skipped, found by
    counting the triple quotes on each line, so triple quotes inside a one-line string or a comment can mislead
    it; a line of a multi-line array that starts with `[` would read as a table header; services written as an
    inline array of tables (`service = [{...}]`) have no header (they get the line of the `service` key). A
    wrong line number is the worst these can do.
    """

    def __init__(self, text: str) -> None:
        # (line, "[" or "[[", name) of each table header; per segment (None: the top) the line of each key.
        self.headers: list[tuple[int, str, str]] = []
        self.keys: list[dict[str, int]] = [{}]
        inside: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if inside is not None:
                if line.count(inside) % 2 == 1:
                    inside = None
                continue
            header = _HEADER.match(line)
            if header:
                self.headers.append((number, header.group(1), next(g for g in header.groups()[1:] if g is not None)))
                self.keys.append({})
            else:
                key = _KEY.match(line)
                if key:
                    self.keys[-1].setdefault(next(g for g in key.groups() if g is not None), number)
            for quotes in _TRIPLE_QUOTES:
                if line.count(quotes) % 2 == 1:
                    inside = quotes
                    break

    def top_key(self, key: str) -> int | None:
        return self.keys[0].get(key)

    def first_table(self, name: str) -> int | None:
        return next((line for line, _, table in self.headers if table == name), None)

    def service_headers(self) -> list[int]:
        return [line for line, kind, name in self.headers if kind == "[[" and name == "service"]

    def fallback_line(self) -> int:
        return self.top_key("service") or 1

    def service_key(self, index: int, key: str) -> int | None:
        """The line of `key` in the index-th [[service]] table (its sub-tables aside)."""
        count = -1
        for segment, (_, kind, name) in enumerate(self.headers, start=1):
            if kind == "[[" and name == "service":
                count += 1
                if count == index:
                    return self.keys[segment].get(key)
        return None
