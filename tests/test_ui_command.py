"""`ecsops ui` on the command line: its options, a store it refuses before serving, the warning for an address other
machines can reach, the missing extra, and one real server on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from cli_helpers import run_ecsops, run_example, start_ecsops

from ecsops.cli.ui_command import MISSING_EXTRA, exposure_warning, is_loopback, page_url, warn_if_exposed


@pytest.mark.parametrize("port", ["0x", "0", "65536", "-1", "80.5", ""])
def test_a_bad_port_exits_2(tmp_path: Path, port: str) -> None:
    run_example(tmp_path / "s.db", tmp_path / "a.json", "fake:a", "run-1")
    result = run_ecsops(tmp_path / "s.db", "ui", "--port", port)
    assert result.returncode == 2
    assert "--port" in result.stderr and "expected a whole number from 1 to 65535" in result.stderr
    assert result.stdout == ""


def test_a_missing_store_exits_2_and_is_not_created(tmp_path: Path) -> None:
    store = tmp_path / "never.db"
    result = run_ecsops(store, "ui")
    assert result.returncode == 2
    assert f"there is no store at {store}" in result.stderr
    assert not store.exists()


def test_a_store_that_cannot_be_read_exits_2_with_the_cli_message(tmp_path: Path) -> None:
    cli = run_ecsops(tmp_path, "runs")
    assert cli.returncode == 2
    message = cli.stderr.split(" (see ")[0]
    other = tmp_path / "other.db"
    # ECSOPS_STORE, the global --store, the command's own --store
    for store, args in ((tmp_path, ["ui"]), (other, ["--store", str(tmp_path), "ui"]),
                        (other, ["ui", "--store", str(tmp_path)])):
        result = run_ecsops(store, *args)
        assert result.returncode == 2, args
        assert result.stderr.startswith(message), (args, result.stderr)
    assert not other.exists()


def test_without_the_ui_extra_it_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_example(tmp_path / "s.db", tmp_path / "a.json", "fake:a", "run-1")
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # `import uvicorn` raises ImportError
    result = run_ecsops(tmp_path / "s.db", "ui")
    assert result.returncode == 2
    assert MISSING_EXTRA in result.stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_a_loopback_address_is_served_without_a_warning(host: str) -> None:
    said: list[str] = []
    assert is_loopback(host)
    assert exposure_warning(host, 8765) is None
    assert not warn_if_exposed(host, 8765, said.append) and said == []


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "ci-runner.example.com"])
def test_any_other_address_gets_one_warning_line(host: str) -> None:
    said: list[str] = []
    assert not is_loopback(host)
    assert warn_if_exposed(host, 9000, said.append)
    assert len(said) == 1 and "\n" not in said[0]
    assert said[0].startswith("warning: ") and "no authentication" in said[0]
    assert f"anyone who can reach {host}:9000 can read the run history" in said[0]


def test_page_urls_bracket_ipv6_hosts() -> None:
    assert page_url("127.0.0.1", 8765) == "http://127.0.0.1:8765/"
    assert page_url("::1", 80) == "http://[::1]:80/"


def test_help_names_every_option() -> None:
    from typer.testing import CliRunner

    from ecsops.cli.app import app

    text = CliRunner().invoke(app, ["ui", "--help"], env={"COLUMNS": "200"}).output
    assert "Usage: ecsops ui [OPTIONS]" in text
    for option in ("--host HOST", "--port PORT", "--open", "--store PATH|dynamodb://TABLE"):
        assert option in text
    words = " ".join(text.split())
    assert "no authentication" in words and "read-only" in words
    assert "ui" in CliRunner().invoke(app, ["--help"]).output


@pytest.mark.process
def test_the_cli_does_not_import_the_web_stack() -> None:
    probe = ("import sys\nfrom ecsops.cli.app import app\n"
             "print(sorted(m for m in ('starlette', 'uvicorn', 'jinja2', 'httpx') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_it_serves_the_store_on_127_0_0_1_until_stopped(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    run_example(store, tmp_path / "a.json", "fake:a", "run-1")
    port = _free_port()
    server = start_ecsops(store, "ui", "--port", str(port))
    try:
        deadline = time.monotonic() + 30
        while True:  # a real server in real time: wait until it answers
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs", timeout=5) as answer:
                    listed = answer.read().decode()
                break
            except OSError:
                assert server.poll() is None, server.communicate(timeout=5)
                assert time.monotonic() < deadline, "ecsops ui did not answer within 30 s"
                time.sleep(0.05)
        assert '"run_id": "run-1"' in listed
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/runs/run-1", timeout=5) as answer:
            assert answer.status == 200 and "run-1" in answer.read().decode()
    finally:
        server.terminate()
        server.wait(timeout=20)
    stderr = server.stderr.read()
    assert f"ecsops ui: http://127.0.0.1:{port}/ (store {store}; read-only" in stderr
    assert "warning" not in stderr

