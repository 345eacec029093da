"""Who is running ecsops: user@host and the CI job (who started it, its URL), from common CI environment variables."""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable, Mapping

Env = Mapping[str, str]

# Besides these variables as they are, a run's `ci` has `actor` (who started the job) and `url` (the job's page)
# where the CI system tells them.
_CI_SYSTEMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("GITHUB_ACTIONS", "github-actions",
     ("GITHUB_REPOSITORY", "GITHUB_WORKFLOW", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_SHA", "GITHUB_ACTOR")),
    ("GITLAB_CI", "gitlab-ci",
     ("CI_PROJECT_PATH", "CI_PIPELINE_ID", "CI_JOB_ID", "CI_JOB_URL", "CI_COMMIT_SHA", "GITLAB_USER_LOGIN")),
    ("CIRCLECI", "circleci",
     ("CIRCLE_PROJECT_REPONAME", "CIRCLE_BUILD_NUM", "CIRCLE_BUILD_URL", "CIRCLE_SHA1", "CIRCLE_USERNAME")),
    ("BUILDKITE", "buildkite",
     ("BUILDKITE_PIPELINE_SLUG", "BUILDKITE_BUILD_NUMBER", "BUILDKITE_BUILD_URL", "BUILDKITE_COMMIT",
      "BUILDKITE_BUILD_CREATOR")),
    ("JENKINS_URL", "jenkins", ("JOB_NAME", "BUILD_NUMBER", "BUILD_URL", "GIT_COMMIT")),
    ("CODEBUILD_BUILD_ID", "codebuild", ("CODEBUILD_BUILD_ID", "CODEBUILD_SOURCE_VERSION", "CODEBUILD_INITIATOR")),
    ("TF_BUILD", "azure-pipelines",
     ("BUILD_REPOSITORY_NAME", "BUILD_BUILDID", "BUILD_SOURCEVERSION", "BUILD_REQUESTEDFOR")),
)


def _github_url(env: Env) -> str | None:
    if not env.get("GITHUB_REPOSITORY") or not env.get("GITHUB_RUN_ID"):
        return None
    server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
    return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"


def _azure_url(env: Env) -> str | None:
    if not env.get("SYSTEM_COLLECTIONURI") or not env.get("SYSTEM_TEAMPROJECT") or not env.get("BUILD_BUILDID"):
        return None
    collection = env["SYSTEM_COLLECTIONURI"].rstrip("/")
    return f"{collection}/{env['SYSTEM_TEAMPROJECT']}/_build/results?buildId={env['BUILD_BUILDID']}"


def _variable(name: str) -> Callable[[Env], str | None]:
    return lambda env: env.get(name) or None


# system -> (who started the job, the job's URL)
_WHO_AND_WHERE: dict[str, tuple[Callable[[Env], str | None], Callable[[Env], str | None]]] = {
    "github-actions": (_variable("GITHUB_ACTOR"), _github_url),
    "gitlab-ci": (_variable("GITLAB_USER_LOGIN"), _variable("CI_JOB_URL")),
    "circleci": (_variable("CIRCLE_USERNAME"), _variable("CIRCLE_BUILD_URL")),
    "buildkite": (_variable("BUILDKITE_BUILD_CREATOR"), _variable("BUILDKITE_BUILD_URL")),
    "jenkins": (_variable("BUILD_USER_ID"), _variable("BUILD_URL")),
    "codebuild": (_variable("CODEBUILD_INITIATOR"), _variable("CODEBUILD_PUBLIC_BUILD_URL")),
    "azure-pipelines": (_variable("BUILD_REQUESTEDFOR"), _azure_url),
}


def started_by() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def ci_identity(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The CI system, who started the job (`actor`), its page (`url`) and its identifiers; {} outside CI."""
    env = os.environ if environ is None else environ
    for marker, system, variables in _CI_SYSTEMS:
        if env.get(marker):
            identity = {"system": system}
            actor, url = (find(env) for find in _WHO_AND_WHERE[system])
            if actor:
                identity["actor"] = actor
            if url:
                identity["url"] = url
            identity.update({name: env[name] for name in variables if env.get(name)})
            return identity
    if env.get("CI", "").lower() in ("true", "1"):
        return {"system": "unknown-ci"}
    return {}
