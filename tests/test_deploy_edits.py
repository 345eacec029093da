import pytest
from pydantic import ValidationError

from ecsops.deploy.flags import (
    FLAG_ENVVAR,
    FLAG_IMAGE,
    FLAG_LOGOPT,
    FLAG_LOGSECRET,
    FLAG_SECRET,
    ContainerEdits,
    EditError,
    TaskDefinitionEdits,
    parse_edits,
)


def edits(images=(), envvars=(), secrets=(), logopts=(), logsecrets=(), task_role=None):
    return parse_edits(list(images), list(envvars), list(secrets), list(logopts), list(logsecrets), task_role)


def test_no_flags_is_empty():
    parsed = edits()
    assert parsed.is_empty
    assert parsed.containers == {}


def test_each_flag_kind_for_several_containers():
    parsed = edits(
        images=["app=123.dkr.ecr.us-east-1.amazonaws.com/app:1.2", "sidecar=envoy@sha256:deadbeef"],
        envvars=["app=FOO=bar", "sidecar=LEVEL=debug"],
        secrets=["app=DB_PASSWORD=arn:aws:ssm:us-east-1:123:parameter/db"],
        logopts=["app=awslogs=awslogs-group=/ecs/app"],
        logsecrets=["sidecar=splunk=splunk-token=arn:aws:secretsmanager:us-east-1:123:secret:tok"],
    )
    app, sidecar = parsed.containers["app"], parsed.containers["sidecar"]
    assert app.image == "123.dkr.ecr.us-east-1.amazonaws.com/app:1.2"
    assert sidecar.image == "envoy@sha256:deadbeef"
    assert app.environment == {"FOO": "bar"}
    assert sidecar.environment == {"LEVEL": "debug"}
    assert app.secrets == {"DB_PASSWORD": "arn:aws:ssm:us-east-1:123:parameter/db"}
    assert app.log_driver == "awslogs"
    assert app.log_options == {"awslogs-group": "/ecs/app"}
    assert sidecar.log_driver == "splunk"
    assert sidecar.log_secret_options == {"splunk-token": "arn:aws:secretsmanager:us-east-1:123:secret:tok"}
    assert not parsed.is_empty


def test_values_keep_equals_signs_and_empty_value_means_remove():
    parsed = edits(
        envvars=["app=JAVA_OPTS=-Dx=1 -Dy=2", "app=OLD="],
        secrets=["app=GONE="],
        logopts=["app=awslogs=tag={{.Name}}=x", "app=awslogs=mode="],
        logsecrets=["app=awslogs=token="],
    )
    app = parsed.containers["app"]
    assert app.environment == {"JAVA_OPTS": "-Dx=1 -Dy=2", "OLD": ""}
    assert app.secrets == {"GONE": ""}
    assert app.log_options == {"tag": "{{.Name}}=x", "mode": ""}
    assert app.log_secret_options == {"token": ""}


@pytest.mark.parametrize(
    ("kwargs", "flag", "earlier", "later"),
    [
        ({"images": ["app=a:1", "app=a:2"]}, FLAG_IMAGE, "app=a:1", "app=a:2"),
        ({"envvars": ["app=FOO=1", "app=BAR=x", "app=FOO=2"]}, "--container-envvar", "app=FOO=1", "app=FOO=2"),
        ({"secrets": ["app=S=arn:1", "app=S="]}, "--container-secret", "app=S=arn:1", "app=S="),
        ({"logopts": ["app=awslogs=k=v", "app=awslogs=k=w"]}, FLAG_LOGOPT, "app=awslogs=k=v", "app=awslogs=k=w"),
        ({"logsecrets": ["app=awslogs=k=a", "app=awslogs=k=b"]}, FLAG_LOGSECRET, "app=awslogs=k=a", "app=awslogs=k=b"),
    ],
)
def test_two_values_for_the_same_key_are_refused_naming_both(kwargs, flag, earlier, later):
    with pytest.raises(EditError) as excinfo:
        edits(**kwargs)
    assert excinfo.value.flag == flag and excinfo.value.value == later
    assert repr(earlier) in excinfo.value.message and "container 'app'" in excinfo.value.message


def test_the_same_value_twice_and_other_containers_or_keys_are_fine():
    parsed = edits(
        images=["app=a:1", " app = a:1 ", "sidecar=b:1"],
        envvars=["app=FOO=1", "app=FOO=1", "sidecar=FOO=2", "app=BAR=2"],
        logopts=["app=awslogs=k=v"],
        logsecrets=["app=awslogs=k=w"],  # an option and a secret option of the same name are different entries
    )
    assert parsed.containers["app"].image == "a:1" and parsed.containers["sidecar"].image == "b:1"
    assert parsed.containers["app"].environment == {"FOO": "1", "BAR": "2"}


def test_names_are_stripped_values_are_verbatim():
    parsed = edits(images=[" app = nginx:1 "], envvars=[" app = FOO = spaced value "])
    assert parsed.containers["app"].image == "nginx:1"
    assert parsed.containers["app"].environment == {"FOO": " spaced value "}


def test_flags_are_remembered_for_error_messages():
    parsed = edits(images=["app=nginx"], envvars=["app=FOO=bar"], logopts=["app=awslogs=k=v"])
    app = parsed.containers["app"]
    assert app.first_flag().flag == FLAG_IMAGE
    assert app.first_flag(FLAG_LOGOPT, FLAG_LOGSECRET).value == "app=awslogs=k=v"


@pytest.mark.parametrize(
    ("task_role", "arn", "clear"),
    [
        (None, None, False),
        ("", None, False),
        ("None", None, True),
        ("arn:aws:iam::123456789012:role/app", "arn:aws:iam::123456789012:role/app", False),
        ("arn:aws-us-gov:iam::123456789012:role/svc/app+x", "arn:aws-us-gov:iam::123456789012:role/svc/app+x", False),
        ("arn:aws-cn:iam::123456789012:role/app", "arn:aws-cn:iam::123456789012:role/app", False),
    ],
)
def test_task_role(task_role, arn, clear):
    parsed = edits(task_role=task_role)
    assert parsed.task_role_arn == arn
    assert parsed.clear_task_role is clear
    assert parsed.is_empty is (arn is None and not clear)


MALFORMED = [
    (FLAG_IMAGE, "app", "expected NAME=IMAGE"),
    (FLAG_IMAGE, "app=", "IMAGE is empty"),
    (FLAG_IMAGE, "=nginx", "NAME is empty"),
    (FLAG_ENVVAR, "app=FOO", "expected NAME=KEY=VALUE"),
    (FLAG_ENVVAR, "app", "expected NAME=KEY=VALUE"),
    (FLAG_ENVVAR, "app==bar", "KEY is empty"),
    (FLAG_ENVVAR, "=FOO=bar", "NAME is empty"),
    (FLAG_SECRET, "app=DB", "expected NAME=KEY=VALUEFROM"),
    (FLAG_SECRET, " =DB=arn", "NAME is empty"),
    (FLAG_LOGOPT, "app=awslogs=awslogs-group", "expected NAME=DRIVER=OPTION=VALUE"),
    (FLAG_LOGOPT, "app==group=x", "DRIVER is empty"),
    (FLAG_LOGOPT, "app=awslogs==x", "OPTION is empty"),
    (FLAG_LOGSECRET, "app=splunk", "expected NAME=DRIVER=OPTION=VALUEFROM"),
    (FLAG_LOGSECRET, "", "expected NAME=DRIVER=OPTION=VALUEFROM"),
]


@pytest.mark.parametrize(("flag", "value", "fragment"), MALFORMED)
def test_malformed_flags_name_the_flag_and_the_form(flag, value, fragment):
    by_flag = {FLAG_IMAGE: "images", FLAG_ENVVAR: "envvars", FLAG_SECRET: "secrets",
               FLAG_LOGOPT: "logopts", FLAG_LOGSECRET: "logsecrets"}
    with pytest.raises(EditError) as excinfo:
        edits(**{by_flag[flag]: ["ok=fine=x=y", value] if flag != FLAG_IMAGE else ["ok=img", value]})
    error = excinfo.value
    assert isinstance(error, ValueError)
    assert error.flag == flag
    assert error.value == value
    assert fragment in error.message
    assert str(error).startswith(f"{flag} {value!r}: ")


def test_error_message_example():
    with pytest.raises(EditError) as excinfo:
        edits(envvars=["app=FOO"])
    assert str(excinfo.value).startswith("--container-envvar 'app=FOO': expected NAME=KEY=VALUE")


def test_two_log_drivers_for_one_container_rejected():
    with pytest.raises(EditError) as excinfo:
        edits(logopts=["app=awslogs=awslogs-group=g"], logsecrets=["app=splunk=splunk-token=arn"])
    assert excinfo.value.flag == FLAG_LOGSECRET
    assert "'awslogs'" in excinfo.value.message and "'splunk'" in excinfo.value.message


def test_different_containers_may_use_different_drivers():
    parsed = edits(logopts=["app=awslogs=k=v", "proxy=splunk=k=v"])
    assert parsed.containers["app"].log_driver == "awslogs"
    assert parsed.containers["proxy"].log_driver == "splunk"


def test_model_is_frozen_and_round_trips_through_json():
    parsed = edits(images=["app=nginx:1"], envvars=["app=A=1"], task_role="None")
    with pytest.raises(ValidationError):
        parsed.clear_task_role = False
    assert TaskDefinitionEdits.model_validate_json(parsed.model_dump_json()) == parsed


def test_model_invariants():
    with pytest.raises(ValidationError):
        TaskDefinitionEdits(task_role_arn="arn:role", clear_task_role=True)
    with pytest.raises(ValidationError):
        ContainerEdits(log_options={"k": "v"})


@pytest.mark.parametrize(
    "task_role",
    ["garbage", "app-role", "arn:aws:iam::123456789012:user/app", "arn:aws:iam::12345:role/app",
     "arn:aws:s3:::bucket", "arn:aws:iam::123456789012:role/", "nONE"],
)
def test_task_role_must_be_a_role_arn_or_none(task_role):
    with pytest.raises(EditError) as excinfo:
        edits(task_role=task_role)
    assert excinfo.value.flag == "--task-role"
    assert "arn:aws:iam::ACCOUNT:role/NAME" in excinfo.value.message and "None" in excinfo.value.message
