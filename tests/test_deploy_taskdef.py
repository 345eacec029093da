"""Task-definition edits end to end through the simulator: each flag kind, knock-outs, no change, --taskdef."""

from __future__ import annotations

from pathlib import Path

from deploy_helpers import container, deploy, named, revisions, rich_demo, service, task_definition

from ecsops.sim.server import SimServer


def test_every_flag_kind_on_two_containers(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(rich_demo())
    result = deploy(
        tmp_path / "s.db",
        "--container-image", "app=nginx:1.27",
        "--container-image", "sidecar=busybox:2",
        "--container-envvar", "app=GREETING=hi",
        "--container-envvar", "sidecar=LEVEL=debug",
        "--container-secret", "app=DB_PASSWORD=arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
        "--container-logopt", "app=awslogs=awslogs-stream-prefix=web2",
        "--container-logopt", "sidecar=json-file=max-file=3",
        "--container-logsecret", "app=awslogs=api-key=arn:aws:ssm:us-east-1:123456789012:parameter/key",
        "--task-role", "arn:aws:iam::123456789012:role/other",
        "--output", "json",
    )
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert document["new_task_definition"].endswith("task-definition/web:2")
    new = task_definition(aws_env, document["new_task_definition"])
    app, sidecar = container(new, "app"), container(new, "sidecar")
    assert app["image"] == "nginx:1.27"
    assert sidecar["image"] == "busybox:2"
    assert named(app["environment"], "value") == {"GREETING": "hi"}
    assert named(sidecar["environment"], "value") == {"MODE": "tail", "LEVEL": "debug"}
    assert named(app["secrets"], "valueFrom") == {
        "DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"
    }
    assert app["logConfiguration"]["options"]["awslogs-stream-prefix"] == "web2"
    assert app["logConfiguration"]["options"]["awslogs-group"] == "/ecs/web"
    assert named(app["logConfiguration"]["secretOptions"], "valueFrom") == {
        "api-key": "arn:aws:ssm:us-east-1:123456789012:parameter/key"
    }
    assert sidecar["logConfiguration"]["options"] == {"max-size": "10m", "max-file": "3"}
    assert new["taskDefinition"]["taskRoleArn"] == "arn:aws:iam::123456789012:role/other"
    assert service(aws_env)["taskDefinition"] == document["new_task_definition"]


def test_fields_beyond_the_common_ones_and_tags_survive(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(rich_demo())
    result = deploy(tmp_path / "s.db", "--container-image", "app=nginx:1.27", "--output", "json")
    assert result.returncode == 0, result.stderr
    old, new = task_definition(aws_env, "web:1"), task_definition(aws_env, "web:2")
    for field in ("volumes", "runtimePlatform", "ephemeralStorage", "taskRoleArn", "networkMode"):
        assert new["taskDefinition"][field] == old["taskDefinition"][field], field
    assert container(new, "sidecar") == container(old, "sidecar")
    tags = {tag["key"]: tag["value"] for tag in new["tags"]}
    assert tags == {"app": "web", "ecsops:run-id": result.json()["run_id"]}


def test_empty_values_knock_out_env_secret_logopt_and_logsecret(tmp_path: Path, aws_env: SimServer) -> None:
    aws_env.reset(rich_demo())
    store = tmp_path / "s.db"
    first = deploy(
        store, "--container-logsecret", "app=awslogs=api-key=arn:aws:ssm:us-east-1:123456789012:parameter/key",
    )
    assert first.returncode == 0, first.stderr
    result = deploy(
        store,
        "--container-envvar", "app=GREETING=",
        "--container-secret", "sidecar=TOKEN=",
        "--container-logopt", "app=awslogs=awslogs-stream-prefix=",
        "--container-logsecret", "app=awslogs=api-key=",
        "--task-role", "None",
        "--output", "json",
    )
    assert result.returncode == 0, result.stderr
    new = task_definition(aws_env, result.json()["new_task_definition"])
    app, sidecar = container(new, "app"), container(new, "sidecar")
    assert named(app.get("environment"), "value") == {}
    assert named(sidecar.get("secrets"), "valueFrom") == {}
    assert "awslogs-stream-prefix" not in app["logConfiguration"]["options"]
    assert named(app["logConfiguration"].get("secretOptions"), "valueFrom") == {}
    assert "taskRoleArn" not in new["taskDefinition"]


def test_no_change_redeploys_the_current_revision(tmp_path: Path, aws_env: SimServer) -> None:
    before = service(aws_env)["deployments"][0]["id"]
    aws_env.reset_counts()
    result = deploy(tmp_path / "s.db", "--container-image", "app=nginx:1.25", "--output", "json")
    assert result.returncode == 0, result.stderr
    counts = aws_env.counts()
    assert "ecs:RegisterTaskDefinition" not in counts
    assert counts["ecs:UpdateService"] == 1
    document = result.json()
    assert document["registered_revision"] is False
    assert document["new_task_definition"] == document["previous_task_definition"]
    assert document["deployment_id"] != before
    assert [t["dest"] for t in document["transitions"]] == ["snapshotted", "updating", "waiting", "succeeded"]
    assert revisions(aws_env) == [document["previous_task_definition"]]


def test_taskdef_flag_is_the_base_of_the_edits(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    assert deploy(store, "--container-image", "app=nginx:1.27").returncode == 0
    assert deploy(store, "--container-envvar", "app=EXTRA=1").returncode == 0  # web:3, on nginx:1.27
    result = deploy(store, "--taskdef", "web:1", "--container-envvar", "app=GREETING=again", "--output", "json")
    assert result.returncode == 0, result.stderr
    new = task_definition(aws_env, result.json()["new_task_definition"])
    assert new["taskDefinition"]["revision"] == 4
    app = container(new, "app")
    assert app["image"] == "nginx:1.25"  # from web:1, not from the service's current web:3
    assert named(app["environment"], "value") == {"GREETING": "again"}


def test_taskdef_without_changes_deploys_that_revision_without_registering(
    tmp_path: Path, aws_env: SimServer
) -> None:
    store = tmp_path / "s.db"
    assert deploy(store, "--container-image", "app=nginx:1.27").returncode == 0
    aws_env.reset_counts()
    result = deploy(store, "--taskdef", "web:1", "--output", "json")
    assert result.returncode == 0, result.stderr
    assert "ecs:RegisterTaskDefinition" not in aws_env.counts()
    assert result.json()["new_task_definition"].endswith("web:1")
    assert service(aws_env)["taskDefinition"].endswith("web:1")


def test_dry_run_prints_the_diff_and_only_reads(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    text = deploy(store, "--container-image", "app=nginx:1.27", "--desired-count", "3", "--dry-run")
    assert text.returncode == 0, text.stderr
    assert "nginx:1.25 -> nginx:1.27" in text.stdout
    assert "would register a new revision of web" in text.stdout
    as_json = deploy(store, "--container-envvar", "app=GREETING=", "--dry-run", "--output", "json")
    assert as_json.returncode == 0, as_json.stderr
    document = as_json.json()
    assert document["dry_run"] is True
    assert document["changes"]["containers"]["app"]["environment"] == {"GREETING": {"before": "hello", "after": None}}
    assert aws_env.mutating_calls() == {}
    assert run_ids(store) == []


def run_ids(store: Path) -> list[str]:
    from cli_helpers import run_ecsops

    runs = run_ecsops(store, "runs", "--operation", "deploy", "--output", "json")
    return [run["run_id"] for run in runs.json()]


def test_desired_count_only_registers_nothing_and_waits_for_the_new_count(tmp_path: Path, aws_env: SimServer) -> None:
    result = deploy(tmp_path / "s.db", "--desired-count", "4", "--output", "json")
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert "ecs:RegisterTaskDefinition" not in aws_env.counts()
    assert document["registered_revision"] is False and document["desired_count"] == 4
    assert document["new_task_definition"] == document["previous_task_definition"]
    now = service(aws_env)
    assert [d["id"] for d in now["deployments"]] == [document["deployment_id"]]
    assert now["desiredCount"] == 4 and now["runningCount"] == 4


def test_older_revision_by_arn_with_a_desired_count(tmp_path: Path, aws_env: SimServer) -> None:
    store = tmp_path / "s.db"
    assert deploy(store, "--container-image", "app=nginx:1.27").returncode == 0
    first = task_definition(aws_env, "web:1")["taskDefinition"]["taskDefinitionArn"]
    aws_env.reset_counts()
    result = deploy(store, "--taskdef", first, "--desired-count", "3", "--output", "json")
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert "ecs:RegisterTaskDefinition" not in aws_env.counts()
    assert document["previous_task_definition"].endswith("web:2")
    assert document["new_task_definition"] == first
    now = service(aws_env)
    assert now["taskDefinition"] == first and now["desiredCount"] == 3 and now["runningCount"] == 3


def test_taskdef_family_that_does_not_exist_exits_2_without_changes(tmp_path: Path, aws_env: SimServer) -> None:
    result = deploy(tmp_path / "s.db", "--taskdef", "nope", "--container-image", "app=nginx:1.27", "--output", "json")
    assert result.returncode == 2
    assert "task definition 'nope' not found" in result.stderr
    assert result.stdout == ""
    assert aws_env.mutating_calls() == {}
