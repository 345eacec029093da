"""`ecsops sim serve` from another process: prints the environment, serves boto3, exits 0 on SIGINT/SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import boto3
import pytest

SERVE = [sys.executable, "-c", "from ecsops.sim.cli import sim_app; sim_app()", "serve", "--port", "0"]

pytestmark = pytest.mark.process


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_env_and_serves_until_signal(stop_signal: int) -> None:
    process = subprocess.Popen(SERVE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(5)]
        env = dict(line.removeprefix("export ").split("=", 1) for line in lines)
        assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
        assert env["AWS_DEFAULT_REGION"] == "us-east-1" and env["ECSOPS_CLOCK"] == "sim"
        ecs = boto3.client(
            "ecs",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        service = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
        assert service["runningCount"] == 2
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=20)
        assert process.returncode == 0
        assert "service web:" in stderr and "demo-asg" in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_cli_module_does_not_import_moto_or_boto3() -> None:
    code = (
        "import sys, ecsops.sim.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('moto', 'boto3', 'botocore')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    assert result.stdout.strip() == "[]"


def test_bad_scenario_path_exits_2(tmp_path: object) -> None:
    result = subprocess.run([*SERVE, "--scenario", "/nonexistent.json"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "cannot load scenario" in result.stderr


def test_serve_on_the_wall_clock_tells_clients_to_use_the_real_clock() -> None:
    import json
    import time
    import urllib.request

    process = subprocess.Popen([*SERVE, "--clock", "wall"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(5)]
        assert lines[4] == "unset ECSOPS_CLOCK"
        url = lines[0].removeprefix("export AWS_ENDPOINT_URL=")
        with urllib.request.urlopen(f"{url}/_ecsops/clock", timeout=10) as response:
            assert abs(json.load(response)["now"] - time.time()) < 2.0
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
        assert process.returncode == 0 and "wall clock" in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_unknown_clock_exits_2() -> None:
    result = subprocess.run([*SERVE, "--clock", "sundial"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--clock must be one of virtual, wall" in result.stderr
