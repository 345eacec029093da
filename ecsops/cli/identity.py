"""Who is running ecsops: user@host and the CI job, from common CI environment variables."""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping

_CI_SYSTEMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("GITHUB_ACTIONS", "github-actions", ("GITHUB_REPOSITORY", "GITHUB_WORKFLOW", "GITHUB_RUN_ID", "GITHUB_SHA")),
    ("GITLAB_CI", "gitlab-ci", ("CI_PROJECT_PATH", "CI_PIPELINE_ID", "CI_JOB_ID", "CI_COMMIT_SHA")),
    ("CIRCLECI", "circleci", ("CIRCLE_PROJECT_REPONAME", "CIRCLE_BUILD_NUM", "CIRCLE_BUILD_URL", "CIRCLE_SHA1")),
    ("BUILDKITE", "buildkite", ("BUILDKITE_PIPELINE_SLUG", "BUILDKITE_BUILD_NUMBER", "BUILDKITE_BUILD_URL")),
    ("JENKINS_URL", "jenkins", ("JOB_NAME", "BUILD_NUMBER", "BUILD_URL", "GIT_COMMIT")),
    ("CODEBUILD_BUILD_ID", "codebuild", ("CODEBUILD_BUILD_ID", "CODEBUILD_SOURCE_VERSION")),
    ("TF_BUILD", "azure-pipelines", ("BUILD_REPOSITORY_NAME", "BUILD_BUILDID", "BUILD_SOURCEVERSION")),
)


def started_by() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def ci_identity(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The CI system and its job identifiers, or {} outside CI."""
    env = os.environ if environ is None else environ
    for marker, system, variables in _CI_SYSTEMS:
        if env.get(marker):
            found = {name: env[name] for name in variables if env.get(name)}
            return {"system": system, **found}
    if env.get("CI", "").lower() in ("true", "1"):
        return {"system": "unknown-ci"}
    return {}
