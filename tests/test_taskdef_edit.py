import copy

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from ecsops.deploy.flags import FLAG_IMAGE, FLAG_LOGOPT, FLAG_LOGSECRET, EditError, parse_edits
from ecsops.deploy.taskdef_edit import (
    apply_edits,
    has_changes,
    register_request_from,
    register_task_definition_members,
    validate_edits,
)

ROLE = "arn:aws:iam::123456789012:role/web"
SSM = "arn:aws:ssm:us-east-1:123456789012:parameter/"

REGISTER_KWARGS = {
    "family": "web",
    "taskRoleArn": ROLE,
    "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
    "networkMode": "awsvpc",
    "containerDefinitions": [
        {
            "name": "app",
            "image": "nginx:1.25",
            "memory": 256,
            "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "secrets": [{"name": "DB", "valueFrom": SSM + "db"}],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1"},
                "secretOptions": [{"name": "token", "valueFrom": SSM + "token"}],
            },
        },
        {"name": "sidecar", "image": "envoy:1", "memory": 128},
    ],
    "volumes": [{"name": "data", "host": {"sourcePath": "/data"}}],
    "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.instance-type =~ t3.*"}],
    "requiresCompatibilities": ["EC2"],
    "cpu": "256",
    "memory": "512",
    "tags": [{"key": "team", "value": "web"}],
    "pidMode": "task",
    "ipcMode": "task",
    "proxyConfiguration": {
        "type": "APPMESH",
        "containerName": "sidecar",
        "properties": [{"name": "AppPorts", "value": "80"}],
    },
    "inferenceAccelerators": [{"deviceName": "d1", "deviceType": "eia2.medium"}],
    "ephemeralStorage": {"sizeInGiB": 30},
    "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
}

UNCOMMON_FIELDS = [
    "volumes",
    "runtimePlatform",
    "ephemeralStorage",
    "placementConstraints",
    "proxyConfiguration",
    "inferenceAccelerators",
    "pidMode",
    "ipcMode",
    "executionRoleArn",
    "requiresCompatibilities",
]
OUTPUT_ONLY_FIELDS = ["taskDefinitionArn", "revision", "status", "compatibilities", "requiresAttributes",
                      "registeredAt", "registeredBy", "deregisteredAt"]


@pytest.fixture
def aws_env(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def ecs(aws_env):
    with mock_aws():
        client = boto3.client("ecs", region_name="us-east-1")
        client.register_task_definition(**REGISTER_KWARGS)
        yield client


@pytest.fixture
def described(ecs):
    return ecs.describe_task_definition(taskDefinition="web", include=["TAGS"])


def edits(images=(), envvars=(), secrets=(), logopts=(), logsecrets=(), task_role=None):
    return parse_edits(list(images), list(envvars), list(secrets), list(logopts), list(logsecrets), task_role)


def app(request):
    return next(c for c in request["containerDefinitions"] if c["name"] == "app")


def test_members_come_from_botocore_model():
    members = register_task_definition_members()
    assert {"family", "containerDefinitions", "tags", "runtimePlatform", "enableFaultInjection"} <= members
    assert not members & set(OUTPUT_ONLY_FIELDS)


def test_register_request_carries_every_input_field_from_moto(described):
    task_definition = described["taskDefinition"]
    request = register_request_from(task_definition, described["tags"])
    for field in UNCOMMON_FIELDS:
        assert request[field] == task_definition[field], field
    assert request["tags"] == [{"key": "team", "value": "web"}]
    assert request["taskRoleArn"] == ROLE
    for field in OUTPUT_ONLY_FIELDS:
        assert field not in request
    assert set(request) <= register_task_definition_members()


def test_register_request_round_trips_through_the_api(ecs, described):
    request = register_request_from(described["taskDefinition"], described["tags"])
    ecs.register_task_definition(**request)
    again = ecs.describe_task_definition(taskDefinition="web:2", include=["TAGS"])
    assert again["taskDefinition"]["revision"] == 2
    assert register_request_from(again["taskDefinition"], again["tags"]) == request


def test_register_request_keeps_unknown_future_and_drops_output_fields():
    task_definition = {
        "family": "web",
        "containerDefinitions": [{"name": "app", "image": "x"}],
        "enableFaultInjection": True,
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123:task-definition/web:3",
        "revision": 3,
        "status": "ACTIVE",
        "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
        "compatibilities": ["EC2"],
        "registeredAt": "2024-01-01T00:00:00Z",
        "registeredBy": "arn:aws:iam::123:user/me",
        "deregisteredAt": "2024-01-02T00:00:00Z",
        "cpu": None,
    }
    request = register_request_from(task_definition, [])
    assert request == {
        "family": "web",
        "containerDefinitions": [{"name": "app", "image": "x"}],
        "enableFaultInjection": True,
    }
    assert "tags" not in request
    request["containerDefinitions"][0]["image"] = "changed"
    assert task_definition["containerDefinitions"][0]["image"] == "x"


@pytest.fixture
def request_(described):
    return register_request_from(described["taskDefinition"], described["tags"])


def test_image_edit_on_several_containers(request_):
    after = apply_edits(request_, edits(images=["app=nginx@sha256:abc", "sidecar=repo:5000/envoy:2"]))
    assert [c["image"] for c in after["containerDefinitions"]] == ["nginx@sha256:abc", "repo:5000/envoy:2"]
    assert has_changes(request_, after)


def test_environment_set_replace_append_and_knock_out(request_):
    after = apply_edits(request_, edits(envvars=["app=B=two", "app=C=x=y", "app=A=", "sidecar=LEVEL=debug"]))
    assert app(after)["environment"] == [{"name": "B", "value": "two"}, {"name": "C", "value": "x=y"}]
    sidecar = after["containerDefinitions"][1]
    assert sidecar["environment"] == [{"name": "LEVEL", "value": "debug"}]


def test_environment_emptied_stays_an_empty_list_and_absent_knock_out_adds_nothing(request_):
    after = apply_edits(request_, edits(envvars=["app=A=", "app=B=", "sidecar=NEVER="]))
    assert app(after)["environment"] == []
    sidecar_before = request_["containerDefinitions"][1]
    assert after["containerDefinitions"][1] == sidecar_before


def test_secrets_set_and_knock_out(request_):
    after = apply_edits(request_, edits(secrets=["app=DB=", "app=API_KEY=" + SSM + "api"]))
    assert app(after)["secrets"] == [{"name": "API_KEY", "valueFrom": SSM + "api"}]


def test_log_options_and_log_secrets(request_):
    after = apply_edits(
        request_,
        edits(
            logopts=["app=awslogs=awslogs-group=/ecs/new", "app=awslogs=awslogs-region=",
                     "app=awslogs=awslogs-stream-prefix=web"],
            logsecrets=["app=awslogs=token=", "app=awslogs=other=" + SSM + "other"],
        ),
    )
    log_configuration = app(after)["logConfiguration"]
    assert log_configuration["logDriver"] == "awslogs"
    assert log_configuration["options"] == {"awslogs-group": "/ecs/new", "awslogs-stream-prefix": "web"}
    assert log_configuration["secretOptions"] == [{"name": "other", "valueFrom": SSM + "other"}]


def test_log_driver_is_set_on_a_container_without_log_configuration(request_):
    after = apply_edits(request_, edits(logopts=["sidecar=splunk=splunk-url=https://s:8088"],
                                        logsecrets=["sidecar=splunk=splunk-token=" + SSM + "t"]))
    assert after["containerDefinitions"][1]["logConfiguration"] == {
        "logDriver": "splunk",
        "options": {"splunk-url": "https://s:8088"},
        "secretOptions": [{"name": "splunk-token", "valueFrom": SSM + "t"}],
    }


def test_log_knock_out_on_container_without_log_configuration_is_no_change(request_):
    after = apply_edits(request_, edits(logopts=["sidecar=splunk=splunk-url="]))
    assert not has_changes(request_, after)


def test_task_role_set_and_cleared(request_):
    other = "arn:aws:iam::123456789012:role/other"
    assert apply_edits(request_, edits(task_role=other))["taskRoleArn"] == other
    cleared = apply_edits(request_, edits(task_role="None"))
    assert "taskRoleArn" not in cleared
    assert has_changes(request_, cleared)
    assert apply_edits(request_, edits(task_role=None))["taskRoleArn"] == ROLE


def test_no_change_detection(request_):
    assert not has_changes(request_, apply_edits(request_, edits()))
    same = edits(images=["app=nginx:1.25"], envvars=["app=A=1"], secrets=["app=DB=" + SSM + "db"],
                 logopts=["app=awslogs=awslogs-group=/ecs/web"], task_role=ROLE)
    assert not has_changes(request_, apply_edits(request_, same))


def test_apply_edits_does_not_mutate_input(request_):
    snapshot = copy.deepcopy(request_)
    apply_edits(request_, edits(images=["app=x"], envvars=["app=A="], logopts=["app=awslogs=awslogs-group="],
                                task_role="None"))
    assert request_ == snapshot


def test_unknown_container(described):
    with pytest.raises(EditError) as excinfo:
        validate_edits(described["taskDefinition"], edits(images=["app=ok", "api=nginx"]))
    error = excinfo.value
    assert error.flag == FLAG_IMAGE
    assert str(error) == ("--container-image 'api=nginx': no container named 'api' in task definition "
                          "web:1; containers: app, sidecar")


def test_unknown_container_in_apply_edits_too(request_):
    with pytest.raises(EditError, match="no container named 'api' in task definition web;"):
        apply_edits(request_, edits(envvars=["api=A=1"]))


@pytest.mark.parametrize(("flag", "kwargs"), [
    (FLAG_LOGOPT, {"logopts": ["app=splunk=splunk-url=https://s"]}),
    (FLAG_LOGSECRET, {"logsecrets": ["app=splunk=splunk-token=arn"]}),
])
def test_wrong_log_driver(described, flag, kwargs):
    with pytest.raises(EditError) as excinfo:
        validate_edits(described["taskDefinition"], edits(images=["app=x"], **kwargs))
    assert excinfo.value.flag == flag
    assert "uses log driver 'awslogs', not 'splunk'" in excinfo.value.message


def test_validate_accepts_good_edits(described):
    validate_edits(described["taskDefinition"],
                   edits(images=["app=x"], logopts=["app=awslogs=k=v", "sidecar=splunk=k=v"]))


# Property tests on a fixed request (no moto: hypothesis re-runs the body many times).
BASE_REQUEST = dict(REGISTER_KWARGS)
names = st.sampled_from(["app", "sidecar"])
keys = st.sampled_from(["A", "B", "C", "D"])
values = st.text(alphabet="ab=:/ ", max_size=6)
images = st.text(alphabet="abc:@/0123456789.", min_size=1, max_size=12).filter(lambda s: s.strip())


@st.composite
def flag_sets(draw):
    def container_and_key(parts):
        return tuple(part.strip() for part in parts[:-1])

    def flags(fields):
        # One value per container and key: two different ones are refused by parse_edits.
        parts = draw(st.lists(st.tuples(*fields), max_size=4, unique_by=container_and_key))
        return ["=".join(p) for p in parts]

    return edits(
        images=flags([names, images]),
        envvars=flags([names, keys, values]),
        secrets=flags([names, keys, values]),
        logopts=flags([st.just("app"), st.just("awslogs"), keys, values]),
        logsecrets=flags([st.just("app"), st.just("awslogs"), keys, values]),
        task_role=draw(st.sampled_from([None, "None", "arn:aws:iam::123456789012:role/x"])),
    )


@given(flag_sets())
def test_apply_edits_never_mutates_and_is_idempotent(flag_set):
    snapshot = copy.deepcopy(BASE_REQUEST)
    once = apply_edits(BASE_REQUEST, flag_set)
    assert snapshot == BASE_REQUEST
    assert apply_edits(once, flag_set) == once
    assert not has_changes(once, apply_edits(once, flag_set))


@given(names, keys, values.filter(bool))
def test_envvar_set_then_knock_out_removes_the_key(name, key, value):
    set_ = apply_edits(BASE_REQUEST, edits(envvars=[f"{name}={key}={value}"]))
    container = next(c for c in set_["containerDefinitions"] if c["name"] == name)
    assert {"name": key, "value": value} in container["environment"]
    removed = apply_edits(set_, edits(envvars=[f"{name}={key}="]))
    container = next(c for c in removed["containerDefinitions"] if c["name"] == name)
    assert all(entry["name"] != key for entry in container["environment"])
