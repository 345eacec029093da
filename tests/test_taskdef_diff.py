import json

from ecsops.deploy.flags import parse_edits
from ecsops.deploy.taskdef_diff import changes_as_json, describe_changes
from ecsops.deploy.taskdef_edit import apply_edits

ROLE_A = "arn:aws:iam::123456789012:role/a"
SSM = "arn:aws:ssm:us-east-1:123456789012:parameter/"

BEFORE = {
    "family": "web",
    "taskRoleArn": ROLE_A,
    "cpu": "256",
    "containerDefinitions": [
        {
            "name": "app",
            "image": "nginx:1.25",
            "environment": [{"name": "OLD", "value": "x"}, {"name": "KEEP", "value": "1"}],
            "secrets": [{"name": "DB", "valueFrom": SSM + "db"}],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {"awslogs-group": "/ecs/web"},
                "secretOptions": [{"name": "token", "valueFrom": SSM + "token"}],
            },
        },
        {"name": "sidecar", "image": "envoy:1"},
    ],
}


def edited(images=(), envvars=(), secrets=(), logopts=(), logsecrets=(), task_role=None):
    edits = parse_edits(list(images), list(envvars), list(secrets), list(logopts), list(logsecrets), task_role)
    return apply_edits(BEFORE, edits)


def test_example_from_the_brief():
    after = edited(images=["app=nginx:1.26"], envvars=["app=FOO=bar", "app=OLD="], task_role="None")
    assert describe_changes(BEFORE, after, 2, 4) == [
        "container app:",
        "  image: nginx:1.25 -> nginx:1.26",
        "  env OLD: removed",
        "  env FOO: (unset) -> bar",
        f"task role: {ROLE_A} -> (none)",
        "desired count: 2 -> 4",
    ]


def test_no_changes_gives_no_lines():
    assert describe_changes(BEFORE, edited(), 2, None) == []
    assert describe_changes(BEFORE, edited(), 2, 2) == []
    assert changes_as_json(BEFORE, edited(), 2, 2) == {
        "changed": False,
        "containers": {},
        "task_role_arn": None,
        "desired_count": None,
        "other_fields": [],
    }


def test_env_changed_secret_and_log_lines():
    after = edited(
        envvars=["app=KEEP=2"],
        secrets=["app=DB=", "app=API=" + SSM + "api"],
        logopts=["app=awslogs=awslogs-group=/ecs/new", "app=awslogs=awslogs-stream-prefix=web"],
        logsecrets=["app=awslogs=token="],
    )
    assert describe_changes(BEFORE, after, None, None) == [
        "container app:",
        "  env KEEP: 1 -> 2",
        "  secret DB: removed",
        f"  secret API: (unset) -> {SSM}api",
        "  log option awslogs-group: /ecs/web -> /ecs/new",
        "  log option awslogs-stream-prefix: (unset) -> web",
        "  log secret token: removed",
    ]


def test_log_driver_set_on_container_without_logging_and_multi_container():
    after = edited(images=["app=nginx:2", "sidecar=envoy:2"], logopts=["sidecar=splunk=splunk-url=https://s"])
    assert describe_changes(BEFORE, after, 3, 3) == [
        "container app:",
        "  image: nginx:1.25 -> nginx:2",
        "container sidecar:",
        "  image: envoy:1 -> envoy:2",
        "  log driver: (none) -> splunk",
        "  log option splunk-url: (unset) -> https://s",
    ]


def test_task_role_set_from_nothing():
    before = {**BEFORE}
    del before["taskRoleArn"]
    after = apply_edits(before, parse_edits([], [], [], [], [], ROLE_A))
    assert describe_changes(before, after, None, None) == [f"task role: (none) -> {ROLE_A}"]


def test_other_fields_and_container_added_or_removed():
    after = {
        **BEFORE,
        "cpu": "512",
        "containerDefinitions": [
            {**BEFORE["containerDefinitions"][0], "memory": 512},
            {"name": "worker", "image": "w:1"},
        ],
    }
    assert describe_changes(BEFORE, after, None, None) == [
        "container app:",
        "  other settings changed: memory",
        "container sidecar: removed",
        "container worker: added",
        "other task definition fields changed: cpu",
    ]


def test_changes_as_json_structure():
    after = edited(images=["app=nginx:1.26"], envvars=["app=FOO=bar", "app=OLD="],
                   secrets=["app=DB=" + SSM + "db2"], task_role="None")
    changes = changes_as_json(BEFORE, after, 2, 4)
    assert changes == {
        "changed": True,
        "containers": {
            "app": {
                "status": "changed",
                "image": {"before": "nginx:1.25", "after": "nginx:1.26"},
                "environment": {
                    "OLD": {"before": "x", "after": None},
                    "FOO": {"before": None, "after": "bar"},
                },
                "secrets": {"DB": {"before": SSM + "db", "after": SSM + "db2"}},
            }
        },
        "task_role_arn": {"before": ROLE_A, "after": None},
        "desired_count": {"before": 2, "after": 4},
        "other_fields": [],
    }
    assert json.loads(json.dumps(changes)) == changes


def test_desired_count_only():
    assert describe_changes(BEFORE, BEFORE, 2, 5) == ["desired count: 2 -> 5"]
    assert changes_as_json(BEFORE, BEFORE, 2, 5)["changed"] is True
