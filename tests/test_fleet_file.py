"""read_fleet: a fleet file (TOML) and deploy-fleet's flags into FleetParams, every fault at once with its line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ecsops.fleet.fleet_file import FleetInputError, FleetOptions, read_fleet

ARN = "arn:aws:ecs:us-east-1:123456789012:service/other/api"
GOOD = """\
cluster = "prod"                 # default for every service below
timeout = "20m"                  # optional defaults
poll-interval = "5s"

[[service]]
service = "api"
container-image = ["app=repo/shop:v42"]
container-envvar = ["app=FEATURE_X=on"]

[[service]]
service = "worker"
container-image = "app=repo/shop:v42"   # one string: a one-element list
desired-count = 4
timeout = "5m"
no-rollback = true

[[service]]
cluster = "batch"
service = "scheduler"
container-image = ["cron=repo/shop:v42"]
"""


def write(tmp_path: Path, text: str, name: str = "fleet.toml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def faults_of(path: str, options: FleetOptions | None = None) -> list[str]:
    with pytest.raises(FleetInputError) as caught:
        read_fleet(path, options or FleetOptions())
    assert str(caught.value) == "\n".join(caught.value.faults)
    return caught.value.faults


def test_a_good_file_gives_each_service_its_defaults_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    fleet = read_fleet(path, FleetOptions(max_parallel=2, on_failure="rollback-all", profile="ops",
                                          region="eu-west-1"))
    assert fleet.file == path
    assert (fleet.max_parallel, fleet.on_failure, fleet.poll_interval) == (2, "rollback-all", 5.0)
    assert (fleet.profile, fleet.region) == ("ops", "eu-west-1")
    assert [(s.index, s.line, s.name) for s in fleet.services] == [
        (0, 5, "prod/api"), (1, 10, "prod/worker"), (2, 17, "batch/scheduler")]
    api, worker, scheduler = (s.params for s in fleet.services)
    assert api.edits.containers["app"].image == "repo/shop:v42"
    assert api.edits.containers["app"].environment == {"FEATURE_X": "on"}
    assert worker.edits.containers["app"].image == "repo/shop:v42"
    assert scheduler.edits.containers["cron"].image == "repo/shop:v42"
    assert (worker.desired_count, worker.no_rollback, api.no_rollback) == (4, True, False)
    assert api.timeout_seconds == 20 * 60 and api.timeout_given
    assert all((p.profile, p.region) == ("ops", "eu-west-1") for p in (api, worker, scheduler))
    assert api.poll_interval is None  # the fleet polls for every service: poll_interval is the fleet's


def test_timeouts_flag_over_the_service_key_over_the_default(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('poll-interval = "5s"', 'rollback-timeout = "3m"'))
    fleet = read_fleet(path, FleetOptions())
    api, worker, _ = (s.params for s in fleet.services)
    assert (api.timeout_seconds, worker.timeout_seconds) == (20 * 60, 5 * 60)
    assert (api.rollback_timeout_seconds, worker.rollback_timeout_seconds) == (3 * 60, 3 * 60)
    assert fleet.poll_interval is None
    flagged = read_fleet(path, FleetOptions(timeout="45m", rollback_timeout="10m"))
    assert {s.params.timeout_seconds for s in flagged.services} == {45 * 60}
    assert {s.params.rollback_timeout_seconds for s in flagged.services} == {10 * 60}


def test_no_timeout_anywhere_is_deploys_default(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        [[service]]
        cluster = "prod"
        service = "api"
        timeout = 90
    """)
    [only] = read_fleet(path, FleetOptions()).services
    assert only.params.timeout_seconds == 90  # a number is seconds, as deploy's --timeout 90
    path = write(tmp_path, '[[service]]\ncluster = "prod"\nservice = "api"\n')
    [only] = read_fleet(path, FleetOptions()).services
    assert only.params.timeout_seconds == 15 * 60 and not only.params.timeout_given


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('cluster = "prod"\n[[service]]\nservice = \n',
                     "fleet.toml:3: not valid TOML: Invalid value (at line 3",
                     id="toml-syntax"),
        pytest.param('cluster = "prod"\n', "fleet.toml: no [[service]] table", id="no-service"),
        pytest.param('cluster = "prod"\n[service]\nservice = "api"\n',
                     "fleet.toml:2: [service] is a single table: write each service as a [[service]]",
                     id="single-table"),
        pytest.param('cluster = "prod"\n\n[[service]]\nservice = "api"\ncontainer-imgae = ["app=x:1"]\n',
                     "fleet.toml:5: service api: unknown key 'container-imgae'; did you mean 'container-image'?",
                     id="unknown-service-key"),
        pytest.param('clustr = "prod"\n[[service]]\ncluster = "prod"\nservice = "api"\n',
                     "fleet.toml:1: unknown key 'clustr'; did you mean 'cluster'?", id="unknown-top-key"),
        pytest.param('cluster = "prod"\n[[service]]\nservice = "api"\ndesired-count = "4"\n',
                     "fleet.toml:4: service api: desired-count = '4': expected a whole number, e.g. 4, not a string",
                     id="wrong-type"),
        pytest.param('cluster = "prod"\n[[service]]\nservice = "api"\nno-rollback = "yes"\n',
                     "fleet.toml:4: service api: no-rollback = 'yes': expected true or false", id="wrong-bool"),
        pytest.param('cluster = "prod"\n[[service]]\nservice = "api"\ncontainer-image = [1]\n',
                     "fleet.toml:4: service api: container-image = [1]: expected a string or an array of strings",
                     id="wrong-array"),
        pytest.param('cluster = "prod"\n[[service]]\ncontainer-image = ["app=x:1"]\n',
                     "fleet.toml:2: service #1: no `service` key", id="missing-service-key"),
        pytest.param('[[service]]\nservice = "api"\n', "fleet.toml:1: service api: no cluster", id="no-cluster"),
        pytest.param('cluster = "prod"\n[[service]]\nservice = "api"\n\n[[service]]\nservice = "api"\n',
                     "fleet.toml:5: service api: prod/api is listed twice: also at line 2", id="twice"),
        pytest.param('cluster = "prod"\n[[service]]\nservice = "api"\npoll-interval = "1s"\n',
                     "fleet.toml:4: service api: poll-interval is fleet-level: set it at the top of the file",
                     id="poll-interval-per-service"),
        pytest.param('cluster = "prod"\ncontainer-image = "app=x:1"\n[[service]]\nservice = "api"\n',
                     "fleet.toml:2: container-image is per service", id="container-key-at-top"),
        pytest.param('region = "us-east-1"\n[[service]]\ncluster = "prod"\nservice = "api"\n',
                     "fleet.toml:1: region is not a key of the file: set --profile/--region on the command line",
                     id="region-key"),
        pytest.param('cluster = "prod"\n[[service]]\nservice = "api"\nprofile = "ops"\n',
                     "fleet.toml:4: service api: profile is not a key of the file: set --profile/--region",
                     id="profile-key"),
        pytest.param('cluster = "prod"\n[[service]]\nservice = "api"\ncontainer-image = ["app"]\n',
                     "fleet.toml:4: service api: container-image 'app': expected NAME=IMAGE", id="deploy-parse"),
        pytest.param('cluster = "prod"\ntimeout = "soon"\n[[service]]\nservice = "api"\n',
                     "fleet.toml:2: timeout: invalid duration 'soon'", id="bad-default"),
        pytest.param('cluster = "prod"\n[[service]]\nservice = "api"\nwait-until = "forever"\n',
                     "fleet.toml:4: service api: wait-until 'forever': expected one of primary-rolled",
                     id="bad-choice"),
        pytest.param('cluster = "prod"\n[[service]]\nservice = "not a name"\n',
                     "fleet.toml:3: service not a name: service 'not a name': not an ECS service name",
                     id="bad-service-name"),
        pytest.param(f'cluster = "prod"\n[[service]]\nservice = "{ARN}"\n',
                     f"fleet.toml:3: service {ARN}: service names a service of cluster 'other' but --cluster is 'prod'",
                     id="arn-of-another-cluster"),
    ],
)
def test_each_fault_names_its_line(tmp_path: Path, text: str, expected: str) -> None:
    faults = faults_of(write(tmp_path, text))
    assert len(faults) == 1 and faults[0].startswith(f"{tmp_path}/{expected}"), faults


def test_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.toml")
    assert faults_of(missing) == [f"{missing}: cannot read the fleet file: No such file or directory"]
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"cluster = \"\xff\"\n")
    assert "not UTF-8" in faults_of(str(binary))[0]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (FleetOptions(max_parallel=0), "--max-parallel 0: must be 1 or more"),
        (FleetOptions(on_failure="pray"), "--on-failure 'pray': expected one of rollback-failed, rollback-all, stop"),
        (FleetOptions(timeout="later"), "--timeout: invalid duration 'later'"),
        (FleetOptions(rollback_timeout="0"), "--rollback-timeout '0': must be above 0"),
    ],
)
def test_bad_flags_are_faults_once_not_per_service(tmp_path: Path, options: FleetOptions, expected: str) -> None:
    [fault] = faults_of(write(tmp_path, GOOD), options)
    assert fault.startswith(expected), fault


def test_every_fault_is_reported_at_once_in_line_order(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        cluster = "prod"
        timeout = "soon"
        region = "us-east-1"

        [[service]]
        service = "api"
        container-imgae = ["app=repo/shop:v42"]
        desired-count = "4"

        [[service]]
        poll-interval = "1s"
        container-image = ["app"]

        [[service]]
        service = "api"
    """)
    faults = faults_of(path, FleetOptions(max_parallel=0))
    assert [fault.removeprefix(path) for fault in faults] == [
        "--max-parallel 0: must be 1 or more",
        ":2: timeout: invalid duration 'soon': expected '90s', '15m', '1h', '1h30m', '10m0s', '500ms' or plain "
        "seconds like '90' or '2.5'",
        ":3: region is not a key of the file: set --profile/--region on the command line (one AWS session serves "
        "the whole fleet)",
        ":7: service api: unknown key 'container-imgae'; did you mean 'container-image'?",
        ":8: service api: desired-count = '4': expected a whole number, e.g. 4, not a string",
        ":10: service #2: no `service` key: the ECS service name or ARN to deploy",
        ":11: service #2: poll-interval is fleet-level: set it at the top of the file (one poll loop serves the "
        "whole fleet)",
        ":12: service #2: container-image 'app': expected NAME=IMAGE",
        ":14: service api: prod/api is listed twice: also at line 5",
    ]


def test_lines_inside_multi_line_strings_are_not_headers(tmp_path: Path) -> None:
    path = write(tmp_path, '''\
        cluster = "prod"
        [[service]]
        service = "api"
        container-envvar = ["""app=NOTE=
        [[service]]
        """]

        [[service]]
        service = "worker"
        wait-until = "later"
    ''')
    [fault] = faults_of(path)  # a fault in a key is at the key's line
    assert fault == f"{path}:10: service worker: wait-until 'later': expected one of primary-rolled, draining-started"
    fixed = read_fleet(write(tmp_path, Path(path).read_text().replace('"later"', '"primary-rolled"')), FleetOptions())
    assert [service.line for service in fixed.services] == [2, 8]
