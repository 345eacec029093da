"""Decide which instances of an Auto Scaling group run out-of-date launch settings (pure, no I/O).

Input is one ``AutoScalingGroups[i]`` dict of a DescribeAutoScalingGroups answer plus a
``TemplateVersionResolver``; output is one ``InstanceVerdict`` per instance.

Rules:

- The group wants its ``LaunchConfigurationName``, or its ``LaunchTemplate``, or its
  ``MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification``. An override of the mixed-instances
  policy that names both an ``InstanceType`` and a ``LaunchTemplateSpecification`` is what the group
  wants for instances of that type, as Auto Scaling launches them that way.
- An instance is out of date when its recorded launch configuration name differs from the wanted one,
  when it records a launch template where a launch configuration is wanted (or the reverse), when its
  template differs from the wanted template, or when its version differs. Templates are compared by id
  after the resolver maps names to ids, so a template named on one side and id'd on the other is equal.
  Versions are compared as numbers: ``$Latest`` and ``$Default`` (and a missing version, which Auto
  Scaling treats as ``$Default``) are resolved on both sides against the template as it is now.
- An instance recording neither a launch configuration nor a launch template is out of date.
- An instance whose recorded template no longer exists is out of date (the group's template exists, so
  they cannot be the same template).
- Only ``InService`` instances are candidates for replacement. Every other lifecycle state (Pending,
  Terminating, Detaching, EnteringStandby, Standby, Warmed:*, ...) still gets ``out_of_date`` computed, but
  carries a ``skip_reason`` and ``needs_replacement`` is False: such an instance is either still being
  launched, already leaving the group, or parked in Standby by an operator. An InService instance that is
  Unhealthy is still a candidate.

Caveat: an instance that recorded ``$Latest``/``$Default`` is resolved against the template's current
latest/default version, because the number it was launched with is not recorded; real Auto Scaling
records numbers for instances, so this only matters for hand-made or simulated data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, model_validator

IN_SERVICE = "InService"
LATEST = "$Latest"
DEFAULT = "$Default"


class LaunchSettingsError(ValueError):
    """The launch settings of a group cannot be decided from what AWS described."""


class UnknownLaunchTemplate(LaunchSettingsError):
    """A launch template (or a version of it) named in a group or instance is not known."""

    def __init__(self, template_id: str | None, template_name: str | None, version: str | None) -> None:
        self.template_id = template_id
        self.template_name = template_name
        self.version = version
        named = " ".join(
            part for part in (template_id, f"({template_name})" if template_name else None) if part
        )
        super().__init__(f"launch template {named or '<unnamed>'} is not known to DescribeLaunchTemplates")


class LaunchSpec(BaseModel):
    """Launch settings as recorded on a group or instance: a launch configuration or a launch template."""

    model_config = ConfigDict(frozen=True)

    launch_configuration_name: str | None = None
    launch_template_id: str | None = None
    launch_template_name: str | None = None
    # As recorded: "$Latest", "$Default", "3", or None (Auto Scaling then uses $Default).
    version: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> LaunchSpec:
        has_template = self.launch_template_id is not None or self.launch_template_name is not None
        if (self.launch_configuration_name is not None) == has_template:
            raise ValueError("a launch spec names exactly one launch configuration or one launch template")
        if self.version is not None and not has_template:
            raise ValueError("only a launch template has a version")
        return self

    @property
    def is_launch_template(self) -> bool:
        return self.launch_configuration_name is None

    @classmethod
    def from_template_specification(cls, specification: Mapping[str, Any]) -> LaunchSpec:
        """From a ``LaunchTemplate`` / ``LaunchTemplateSpecification`` dict."""
        return cls(
            launch_template_id=specification.get("LaunchTemplateId"),
            launch_template_name=specification.get("LaunchTemplateName"),
            version=specification.get("Version"),
        )

    @classmethod
    def recorded_on(cls, described: Mapping[str, Any]) -> LaunchSpec | None:
        """What an instance (or group, ignoring mixed-instances policies) records; None when nothing."""
        if described.get("LaunchConfigurationName"):
            return cls(launch_configuration_name=described["LaunchConfigurationName"])
        if described.get("LaunchTemplate"):
            return cls.from_template_specification(described["LaunchTemplate"])
        return None

    def describe(self) -> str:
        if self.launch_configuration_name is not None:
            return f"launch configuration {self.launch_configuration_name}"
        version = self.version if self.version is not None else f"{DEFAULT} (none recorded)"
        return f"launch template {self.launch_template_id or self.launch_template_name} version {version}"


class ResolvedTemplate(BaseModel):
    """A launch template version with id, name and a concrete version number."""

    model_config = ConfigDict(frozen=True)

    template_id: str
    template_name: str
    version: int
    # The version string this was resolved from, kept for messages ("5 ($Latest)").
    requested_version: str | None = None

    def same_as(self, other: ResolvedTemplate) -> bool:
        return self.template_id == other.template_id and self.version == other.version

    def version_text(self) -> str:
        if self.requested_version is not None and self.requested_version.startswith("$"):
            return f"{self.version} ({self.requested_version})"
        return str(self.version)

    def describe(self) -> str:
        return f"launch template {self.template_id} version {self.version_text()}"


class TemplateVersionResolver(Protocol):
    """Map a launch template (by id and/or name) and a version string to a concrete template version.

    Raises ``UnknownLaunchTemplate`` when the template is not known, ``LaunchSettingsError`` when the
    version string is not a number, ``$Latest`` or ``$Default``.
    """

    def __call__(
        self, *, template_id: str | None, template_name: str | None, version: str | None
    ) -> ResolvedTemplate: ...


class LaunchTemplateCatalog:
    """A ``TemplateVersionResolver`` built from DescribeLaunchTemplates ``LaunchTemplates`` items."""

    def __init__(self, launch_templates: Iterable[Mapping[str, Any]]) -> None:
        self._by_id: dict[str, Mapping[str, Any]] = {}
        self._by_name: dict[str, Mapping[str, Any]] = {}
        for template in launch_templates:
            self._by_id[template["LaunchTemplateId"]] = template
            self._by_name[template["LaunchTemplateName"]] = template

    def __call__(
        self, *, template_id: str | None, template_name: str | None, version: str | None
    ) -> ResolvedTemplate:
        # An id wins over a name: a template deleted and re-created under the same name is another template.
        template = self._by_id.get(template_id) if template_id else self._by_name.get(template_name or "")
        if template is None:
            raise UnknownLaunchTemplate(template_id, template_name, version)
        return ResolvedTemplate(
            template_id=template["LaunchTemplateId"],
            template_name=template["LaunchTemplateName"],
            version=_version_number(template, version),
            requested_version=version,
        )


def _version_number(template: Mapping[str, Any], version: str | None) -> int:
    if version is None or version == DEFAULT:
        return int(template["DefaultVersionNumber"])
    if version == LATEST:
        return int(template["LatestVersionNumber"])
    if version.isdigit():
        return int(version)
    raise LaunchSettingsError(
        f"launch template {template['LaunchTemplateId']} version {version!r} is not a number, "
        f"{LATEST} or {DEFAULT}"
    )


def _resolve(resolve: TemplateVersionResolver, spec: LaunchSpec) -> ResolvedTemplate:
    return resolve(
        template_id=spec.launch_template_id, template_name=spec.launch_template_name, version=spec.version
    )


class TemplateOverride(BaseModel):
    """A mixed-instances override: instances of this type launch from another template."""

    model_config = ConfigDict(frozen=True)

    instance_type: str
    spec: LaunchSpec
    template: ResolvedTemplate


class GroupLaunchSpec(BaseModel):
    """What launch settings an Auto Scaling group wants its instances to have."""

    model_config = ConfigDict(frozen=True)

    group_name: str
    source: Literal["launch_configuration", "launch_template", "mixed_instances_policy"]
    spec: LaunchSpec
    # Set when spec is a launch template.
    template: ResolvedTemplate | None = None
    overrides: tuple[TemplateOverride, ...] = ()

    def wanted_for(self, instance_type: str | None) -> tuple[LaunchSpec, ResolvedTemplate | None]:
        for override in self.overrides:
            if override.instance_type == instance_type:
                return override.spec, override.template
        return self.spec, self.template


def _group_name(asg: Mapping[str, Any]) -> str:
    return str(asg.get("AutoScalingGroupName", "<unnamed>"))


def template_references(asg: Mapping[str, Any]) -> list[LaunchSpec]:
    """Every launch template the group, its mixed-instances policy or its instances name (deduplicated).

    A reader fetches exactly these templates to build a resolver.
    """
    specs: list[LaunchSpec] = []
    if asg.get("LaunchTemplate"):
        specs.append(LaunchSpec.from_template_specification(asg["LaunchTemplate"]))
    mixed_template = (asg.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}
    if mixed_template.get("LaunchTemplateSpecification"):
        specs.append(LaunchSpec.from_template_specification(mixed_template["LaunchTemplateSpecification"]))
    for override in mixed_template.get("Overrides") or []:
        if override.get("LaunchTemplateSpecification"):
            specs.append(LaunchSpec.from_template_specification(override["LaunchTemplateSpecification"]))
    for instance in asg.get("Instances") or []:
        if instance.get("LaunchTemplate"):
            specs.append(LaunchSpec.from_template_specification(instance["LaunchTemplate"]))
    return list(dict.fromkeys(specs))


def group_launch_spec(asg: Mapping[str, Any], template_versions: TemplateVersionResolver) -> GroupLaunchSpec:
    """The launch settings the group wants, templates resolved to concrete versions.

    Raises ``LaunchSettingsError`` naming the group when it has no (or more than one kind of) launch
    settings or when its template is unknown.
    """
    group_name = _group_name(asg)
    mixed_template = (asg.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}
    kinds = [
        kind
        for kind, present in (
            ("launch_configuration", bool(asg.get("LaunchConfigurationName"))),
            ("launch_template", bool(asg.get("LaunchTemplate"))),
            ("mixed_instances_policy", bool(mixed_template.get("LaunchTemplateSpecification"))),
        )
        if present
    ]
    if len(kinds) != 1:
        found = ", ".join(kinds) or "none"
        raise LaunchSettingsError(
            f"Auto Scaling group {group_name} must have exactly one of a launch configuration, a launch "
            f"template or a mixed-instances policy launch template; found: {found}"
        )
    source = kinds[0]
    try:
        if source == "launch_configuration":
            return GroupLaunchSpec(
                group_name=group_name,
                source="launch_configuration",
                spec=LaunchSpec(launch_configuration_name=asg["LaunchConfigurationName"]),
            )
        if source == "launch_template":
            spec = LaunchSpec.from_template_specification(asg["LaunchTemplate"])
            return GroupLaunchSpec(
                group_name=group_name,
                source="launch_template",
                spec=spec,
                template=_resolve(template_versions, spec),
            )
        spec = LaunchSpec.from_template_specification(mixed_template["LaunchTemplateSpecification"])
        overrides = []
        for override in mixed_template.get("Overrides") or []:
            if override.get("InstanceType") and override.get("LaunchTemplateSpecification"):
                override_spec = LaunchSpec.from_template_specification(
                    override["LaunchTemplateSpecification"]
                )
                overrides.append(
                    TemplateOverride(
                        instance_type=override["InstanceType"],
                        spec=override_spec,
                        template=_resolve(template_versions, override_spec),
                    )
                )
        return GroupLaunchSpec(
            group_name=group_name,
            source="mixed_instances_policy",
            spec=spec,
            template=_resolve(template_versions, spec),
            overrides=tuple(overrides),
        )
    except LaunchSettingsError as error:
        raise LaunchSettingsError(f"Auto Scaling group {group_name}: {error}") from error


class InstanceVerdict(BaseModel):
    """Whether one instance of the group runs the launch settings the group wants, and why."""

    model_config = ConfigDict(frozen=True)

    instance_id: str
    instance_type: str | None = None
    availability_zone: str
    lifecycle_state: str
    health_status: str
    # What the instance records; None when it records nothing.
    launch_spec: LaunchSpec | None = None
    out_of_date: bool
    reason: str
    # Set when the instance is not a replacement candidate whatever its launch settings (not InService).
    skip_reason: str | None = None

    @property
    def needs_replacement(self) -> bool:
        return self.out_of_date and self.skip_reason is None


def _compare(
    recorded: LaunchSpec | None,
    wanted: LaunchSpec,
    wanted_template: ResolvedTemplate | None,
    resolve: TemplateVersionResolver,
) -> tuple[bool, str]:
    """(out_of_date, reason) for one instance's recorded settings against the wanted ones."""
    if recorded is None:
        return True, "no launch configuration or template recorded"
    if wanted_template is None:  # the group wants a launch configuration
        if recorded.launch_configuration_name == wanted.launch_configuration_name:
            return False, f"{recorded.describe()}, as the group wants"
        if recorded.is_launch_template:
            return True, f"{recorded.describe()}, group wants {wanted.describe()}"
        return True, f"{recorded.describe()}, group wants {wanted.launch_configuration_name}"
    if not recorded.is_launch_template:
        return True, f"{recorded.describe()}, group wants {wanted_template.describe()}"
    try:
        current = _resolve(resolve, recorded)
    except UnknownLaunchTemplate:
        return (
            True,
            f"{recorded.describe()} (template no longer exists), group wants {wanted_template.describe()}",
        )
    if current.same_as(wanted_template):
        return False, f"{current.describe()}, as the group wants"
    if current.template_id == wanted_template.template_id:
        return True, f"{current.describe()}, group wants {wanted_template.version_text()}"
    return True, f"{current.describe()}, group wants {wanted_template.describe()}"


def _skip_reason(lifecycle_state: str) -> str | None:
    if lifecycle_state == IN_SERVICE:
        return None
    if lifecycle_state.startswith("Pending"):
        return f"{lifecycle_state}: still launching; run again once it is InService"
    if lifecycle_state.startswith(("Terminat", "Detach")):
        return f"{lifecycle_state}: already leaving the group"
    if "Standby" in lifecycle_state:
        return f"{lifecycle_state}: put in standby by an operator; exit standby to have it replaced"
    return f"{lifecycle_state}: only InService instances are replaced"


def classify_instances(asg: Mapping[str, Any], resolve: TemplateVersionResolver) -> list[InstanceVerdict]:
    """One verdict per instance of the group, in the order DescribeAutoScalingGroups listed them."""
    wanted = group_launch_spec(asg, resolve)
    verdicts = []
    for instance in asg.get("Instances") or []:
        recorded = LaunchSpec.recorded_on(instance)
        wanted_spec, wanted_template = wanted.wanted_for(instance.get("InstanceType"))
        out_of_date, reason = _compare(recorded, wanted_spec, wanted_template, resolve)
        verdicts.append(
            InstanceVerdict(
                instance_id=instance["InstanceId"],
                instance_type=instance.get("InstanceType"),
                availability_zone=instance["AvailabilityZone"],
                lifecycle_state=instance["LifecycleState"],
                health_status=instance["HealthStatus"],
                launch_spec=recorded,
                out_of_date=out_of_date,
                reason=reason,
                skip_reason=_skip_reason(instance["LifecycleState"]),
            )
        )
    return verdicts


def instances_to_replace(verdicts: Iterable[InstanceVerdict]) -> list[InstanceVerdict]:
    """The verdicts that call for a replacement: out of date and InService."""
    return [verdict for verdict in verdicts if verdict.needs_replacement]
