"""A run records who started it and from which CI job (actor, job URL), and `status` shows them."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_ecsops, run_example

from ecsops.cli.identity import ci_identity

# Every CI marker blanked, so the test's own environment (a CI job, perhaps) does not leak in.
NO_CI = {name: "" for name in ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "BUILDKITE", "JENKINS_URL",
                                "CODEBUILD_BUILD_ID", "TF_BUILD")}

GITHUB = {
    "GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octocat", "GITHUB_SERVER_URL": "https://github.example.com",
    "GITHUB_REPOSITORY": "org/app", "GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "2", "GITHUB_SHA": "abc123",
    "GITHUB_WORKFLOW": "deploy",
}


@pytest.mark.parametrize(
    ("env", "system", "actor", "url"),
    [
        (GITHUB, "github-actions", "octocat", "https://github.example.com/org/app/actions/runs/42"),
        ({"GITLAB_CI": "true", "GITLAB_USER_LOGIN": "alice", "CI_JOB_URL": "https://gitlab.example.com/g/p/-/jobs/7",
          "CI_JOB_ID": "7"}, "gitlab-ci", "alice", "https://gitlab.example.com/g/p/-/jobs/7"),
        ({"CIRCLECI": "true", "CIRCLE_USERNAME": "bob", "CIRCLE_BUILD_URL": "https://circleci.com/gh/o/r/9"},
         "circleci", "bob", "https://circleci.com/gh/o/r/9"),
        ({"BUILDKITE": "true", "BUILDKITE_BUILD_CREATOR": "Carol",
          "BUILDKITE_BUILD_URL": "https://buildkite.com/o/p/builds/3"}, "buildkite", "Carol",
         "https://buildkite.com/o/p/builds/3"),
    ],
    ids=["github", "gitlab", "circleci", "buildkite"],
)
def test_status_shows_who_started_the_ci_job_and_where(
    tmp_path: Path, env: dict[str, str], system: str, actor: str, url: str
) -> None:
    store = tmp_path / "s.db"
    started = run_example(store, tmp_path / "a.json", "fake:a", "run-1", **{**NO_CI, **env})
    assert started.returncode == 0, started.stderr

    document = run_ecsops(store, "status", "run-1", "--output", "json").json()
    assert document["ci"]["system"] == system
    assert document["ci"]["actor"] == actor and document["ci"]["url"] == url
    assert run_ecsops(store, "runs", "--output", "json").json()[0]["ci"] == document["ci"]

    text = run_ecsops(store, "status", "run-1").stdout
    ci_line = next(line for line in text.splitlines() if line.startswith("ci "))
    assert system in ci_line and f"by {actor}" in ci_line and url in ci_line


def test_outside_ci_there_is_no_ci_line(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    assert run_example(store, tmp_path / "a.json", "fake:a", "run-1", **NO_CI).returncode == 0
    assert run_ecsops(store, "status", "run-1", "--output", "json").json()["ci"] == {}
    assert not [line for line in run_ecsops(store, "status", "run-1").stdout.splitlines() if line.startswith("ci ")]


def test_github_url_needs_the_repository_and_run_and_defaults_the_server() -> None:
    assert ci_identity({"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "1"})["url"] == (
        "https://github.com/o/r/actions/runs/1"
    )
    assert "url" not in ci_identity({"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "o/r"})
    assert "actor" not in ci_identity({"GITHUB_ACTIONS": "true"})
