"""Parse the deploy flags (`--container-image app=nginx:1.26`, ...) into one validated edit set."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

FLAG_IMAGE = "--container-image"
FLAG_ENVVAR = "--container-envvar"
FLAG_SECRET = "--container-secret"
FLAG_LOGOPT = "--container-logopt"
FLAG_LOGSECRET = "--container-logsecret"
FLAG_TASK_ROLE = "--task-role"

# The literal that clears the task role, as in go-awsecs.
TASK_ROLE_CLEAR = "None"
# arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME, PARTITION being aws, aws-cn, aws-us-gov, aws-iso-b...
TASK_ROLE_ARN = re.compile(r"arn:aws(?:-[a-z]+)*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]+")

# Each flag's form; all fields but the last are split off at the first '=' signs, the last
# field is the rest of the value and may itself contain '='.
FLAG_FORMS: dict[str, tuple[str, ...]] = {
    FLAG_IMAGE: ("NAME", "IMAGE"),
    FLAG_ENVVAR: ("NAME", "KEY", "VALUE"),
    FLAG_SECRET: ("NAME", "KEY", "VALUEFROM"),
    FLAG_LOGOPT: ("NAME", "DRIVER", "OPTION", "VALUE"),
    FLAG_LOGSECRET: ("NAME", "DRIVER", "OPTION", "VALUEFROM"),
}


class EditError(ValueError):
    """A deploy flag that cannot be applied; `flag` and `value` say which one, `message` why."""

    def __init__(self, flag: str, value: str, message: str) -> None:
        self.flag = flag
        self.value = value
        self.message = message
        super().__init__(f"{flag} {value!r}: {message}")


class FlagUse(BaseModel):
    """One flag as the user typed it, kept so later validation can point back at it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flag: str
    value: str


class ContainerEdits(BaseModel):
    """The edits for one container. In every mapping an empty value means "remove this entry"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image: str | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)  # name -> valueFrom
    # The driver named by this container's logopt/logsecret flags (at most one per container).
    log_driver: str | None = None
    log_options: dict[str, str] = Field(default_factory=dict)
    log_secret_options: dict[str, str] = Field(default_factory=dict)  # name -> valueFrom
    flags: tuple[FlagUse, ...] = ()

    @model_validator(mode="after")
    def _log_edits_name_their_driver(self) -> Self:
        if (self.log_options or self.log_secret_options) and not self.log_driver:
            raise ValueError("log options or log secret options need a log_driver")
        return self

    def first_flag(self, *flags: str) -> FlagUse:
        """The first flag use (of the given kinds, or of any kind) that produced these edits."""
        for use in self.flags:
            if not flags or use.flag in flags:
                return use
        raise LookupError(f"no {' or '.join(flags) or 'flag'} among {self.flags!r}")


class TaskDefinitionEdits(BaseModel):
    """Everything a deploy changes in a task definition; empty when only redeploying.

    `containers` is keyed by container name. The task role is unchanged unless `task_role_arn` is set
    or `clear_task_role` is true (never both). Treat the mappings as read-only.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    containers: dict[str, ContainerEdits] = Field(default_factory=dict)
    task_role_arn: str | None = None
    clear_task_role: bool = False

    @model_validator(mode="after")
    def _task_role_set_or_cleared(self) -> Self:
        if self.task_role_arn is not None and self.clear_task_role:
            raise ValueError("task_role_arn and clear_task_role are exclusive")
        if self.task_role_arn == "":
            raise ValueError("task_role_arn must not be empty; use clear_task_role")
        return self

    @property
    def is_empty(self) -> bool:
        """True when no flag asks for any change."""
        return not self.containers and self.task_role_arn is None and not self.clear_task_role


def parse_edits(
    images: Sequence[str],
    envvars: Sequence[str],
    secrets: Sequence[str],
    logopts: Sequence[str],
    logsecrets: Sequence[str],
    task_role: str | None,
) -> TaskDefinitionEdits:
    """Parse the raw values of the repeated deploy flags.

    Two flags that set the same container's image, or the same key of it, to different values are an
    error naming both (the same value twice is fine). Names (NAME, KEY, DRIVER, OPTION) are stripped of
    surrounding whitespace and must not be empty; values are kept verbatim (images are stripped) and may
    contain '='. `task_role` None or blank leaves the role unchanged, `"None"` clears it, anything else
    must be an IAM role ARN. Raises EditError for the first malformed or conflicting flag.
    """
    builders: dict[str, _ContainerBuilder] = {}

    def builder(name: str) -> _ContainerBuilder:
        return builders.setdefault(name, _ContainerBuilder())

    for raw in images:
        name, image = _split(FLAG_IMAGE, raw)
        image = image.strip()
        if not image:
            raise EditError(FLAG_IMAGE, raw, _expected(FLAG_IMAGE, "IMAGE is empty"))
        container = builder(name)
        container.check_no_conflict(FlagUse(flag=FLAG_IMAGE, value=raw), "", container.image, image)
        container.image = image
        container.flags.append(FlagUse(flag=FLAG_IMAGE, value=raw))
    for raw in envvars:
        name, key, value = _split(FLAG_ENVVAR, raw)
        builder(name).set_entry(FlagUse(flag=FLAG_ENVVAR, value=raw), builder(name).environment, key, value)
    for raw in secrets:
        name, key, value_from = _split(FLAG_SECRET, raw)
        builder(name).set_entry(FlagUse(flag=FLAG_SECRET, value=raw), builder(name).secrets, key, value_from)
    for flag, raws in ((FLAG_LOGOPT, logopts), (FLAG_LOGSECRET, logsecrets)):
        for raw in raws:
            name, driver, option, value = _split(flag, raw)
            container = builder(name)
            use = FlagUse(flag=flag, value=raw)
            container.set_log_driver(driver, use)
            target = container.log_options if flag == FLAG_LOGOPT else container.log_secret_options
            container.set_entry(use, target, option, value, record=False)

    role_arn, clear_role = _parse_task_role(task_role)
    return TaskDefinitionEdits(
        containers={name: b.build() for name, b in builders.items()},
        task_role_arn=role_arn,
        clear_task_role=clear_role,
    )


@dataclass
class _ContainerBuilder:
    image: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    log_driver: str | None = None
    log_options: dict[str, str] = field(default_factory=dict)
    log_secret_options: dict[str, str] = field(default_factory=dict)
    flags: list[FlagUse] = field(default_factory=list)

    def check_no_conflict(self, use: FlagUse, key: str, current: str | None, value: str) -> None:
        """Two flags giving one image or one key two values: say which, rather than let the last win."""
        if current is None or current == value:
            return
        earlier = next(
            u for u in self.flags if u.flag == use.flag and u.value != use.value and _key_of(u) == (key or None)
        )
        what = "image" if use.flag == FLAG_IMAGE else f"{_ENTRY_KIND[use.flag]} {key!r}"
        raise EditError(
            use.flag,
            use.value,
            f"conflicts with {earlier.flag} {earlier.value!r}: two values for the {what} of container "
            f"{_split(use.flag, use.value)[0]!r}; give one",
        )

    def set_entry(
        self, use: FlagUse, target: dict[str, str], key: str, value: str, *, record: bool = True
    ) -> None:
        self.check_no_conflict(use, key, target.get(key), value)
        target[key] = value
        if record:
            self.flags.append(use)

    def set_log_driver(self, driver: str, use: FlagUse) -> None:
        if self.log_driver is not None and self.log_driver != driver:
            earlier = next(u for u in self.flags if u.flag in (FLAG_LOGOPT, FLAG_LOGSECRET))
            raise EditError(
                use.flag,
                use.value,
                f"log driver {driver!r} conflicts with {self.log_driver!r} from {earlier.flag} "
                f"{earlier.value!r}; a container has one log driver",
            )
        self.log_driver = driver
        self.flags.append(use)

    def build(self) -> ContainerEdits:
        return ContainerEdits(
            image=self.image,
            environment=self.environment,
            secrets=self.secrets,
            log_driver=self.log_driver,
            log_options=self.log_options,
            log_secret_options=self.log_secret_options,
            flags=tuple(self.flags),
        )


def _expected(flag: str, detail: str = "") -> str:
    form = "=".join(FLAG_FORMS[flag])
    removal = f" (an empty {FLAG_FORMS[flag][-1]} removes the entry)" if flag != FLAG_IMAGE else ""
    return f"expected {form}{removal}" + (f"; {detail}" if detail else "")


def _split(flag: str, raw: str) -> list[str]:
    """Split `raw` into the flag's fields: leading names stripped and non-empty, the value verbatim."""
    fields = FLAG_FORMS[flag]
    parts = raw.split("=", len(fields) - 1)
    if len(parts) != len(fields):
        raise EditError(flag, raw, _expected(flag))
    names = [part.strip() for part in parts[:-1]]
    for field_name, name in zip(fields, names, strict=False):
        if not name:
            raise EditError(flag, raw, _expected(flag, f"{field_name} is empty"))
    return [*names, parts[-1]]


_ENTRY_KIND = {
    FLAG_ENVVAR: "environment variable",
    FLAG_SECRET: "secret",
    FLAG_LOGOPT: "log option",
    FLAG_LOGSECRET: "log secret option",
}


def _key_of(use: FlagUse) -> str | None:
    """The key a flag use sets (KEY or OPTION), None for an image."""
    if use.flag == FLAG_IMAGE:
        return None
    return _split(use.flag, use.value)[-2]


def _parse_task_role(task_role: str | None) -> tuple[str | None, bool]:
    # Blank means unchanged, as in go-awsecs, so `--task-role "$ROLE"` with an unset ROLE ports as is.
    if task_role is None or not task_role.strip():
        return None, False
    if task_role.strip() == TASK_ROLE_CLEAR:
        return None, True
    if not TASK_ROLE_ARN.fullmatch(task_role.strip()):
        raise EditError(
            FLAG_TASK_ROLE,
            task_role,
            f"expected an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME) or {TASK_ROLE_CLEAR} to clear the task role",
        )
    return task_role.strip(), False
