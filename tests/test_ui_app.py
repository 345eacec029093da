"""`ecsops ui`'s web application over a store filled by real runs against the simulator: the runs page and its
filters, each operation's run page, item pages, the JSON API against the CLI's own JSON, escaping, the read-only
guard, id validation, a store that cannot be read, the live part of a running run's page."""

from __future__ import annotations

import html
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_ecsops
from dynamodb_helpers import STORE_URL, make_table, runner
from markupsafe import escape
from starlette.testclient import TestClient

from ecsops.cli.ui.app import create_app
from ecsops.sim.server import SimServer

HOSTILE_REASON = "<script>alert(1)</script>"
HOSTILE_ENV = "<img src=x onerror=alert(2)>"
WEB = ("--cluster", "demo", "--service", "web", "--poll-interval", "0")
GITHUB = {"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "alice", "GITHUB_REPOSITORY": "acme/shop",
          "GITHUB_RUN_ID": "4242", "GITHUB_WORKFLOW": "release"}
FLEET_FILE = """poll-interval = "0"
cluster = "batch"

[[service]]
service = "api"
container-image = ["app=nginx:1.27"]

[[service]]
service = "worker"
container-image = ["app=nginx:broken"]
"""


@dataclass(frozen=True)
class Recorded:
    store: Path
    client: TestClient


@pytest.fixture(scope="module")
def recorded(sim_server: SimServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    """One store with: a good deploy started from CI (t-good), a rolled-back one (t-broken), a blue/green one
    (t-bluegreen), a fleet of two services, one rolled back (t-fleet), a replacement of instances whose id holds a
    '/' (t/replace), a run killed and abandoned with a hostile reason from a CI job whose URL is javascript:
    (t-hostile), and a run killed while it waits, left unfinished (t-killed)."""
    directory = tmp_path_factory.mktemp("ui")
    store = directory / "ecsops.db"
    (directory / "fleet.toml").write_text(FLEET_FILE)
    sim_server.reset("bluegreen")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            patch.delenv(name, raising=False)
        for name, value in {"AWS_ENDPOINT_URL": sim_server.url, "AWS_ACCESS_KEY_ID": "testing",
                            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": sim_server.scenario.region,
                            "ECSOPS_CLOCK": "sim"}.items():
            patch.setenv(name, value)

        def ecsops(*args: str, expect: int = 0, **env: str) -> None:
            result = run_ecsops(store, *args, timeout=120, **env)
            assert result.returncode == expect, result.stderr

        ecsops("deploy", *WEB, "--container-image", "app=nginx:1.27", "--container-envvar", f"app=BANNER={HOSTILE_ENV}",
               "--desired-count", "3", "--run-id", "t-good", **GITHUB)
        ecsops("deploy", *WEB, "--container-image", "app=nginx:broken", "--timeout", "10m", "--run-id", "t-broken",
               expect=3)
        ecsops("deploy", "--cluster", "demo", "--service", "bg", "--container-image", "app=nginx:1.27",
               "--run-id", "t-bluegreen")
        ecsops("deploy-fleet", str(directory / "fleet.toml"), "--run-id", "t-fleet", expect=3)
        ecsops("replace-instances", "--asg", "demo-asg", "--cluster", "demo", "--poll-interval", "0",
               "--run-id", "t/replace")
        ecsops("deploy", *WEB, "--container-image", "app=nginx:1.28", "--run-id", "t-hostile", expect=-9,
               ECSOPS_CRASH_AT="enter:waiting", **{**GITHUB, "GITHUB_SERVER_URL": "javascript:alert(3)//"})
        ecsops("abandon", "t-hostile", "--reason", HOSTILE_REASON)
        ecsops("deploy", *WEB, "--container-image", "app=nginx:1.29", "--run-id", "t-killed", expect=-9,
               ECSOPS_CRASH_AT="enter:waiting")
    with TestClient(create_app(str(store))) as client:
        yield Recorded(store, client)


def rows(body: str) -> list[str]:
    """The run ids of the runs table, in order."""
    return re.findall(r'<tr class="run[^"]*" data-run-id="([^"]+)"', body)


def cli_json(store: Path, *args: str) -> Any:
    result = run_ecsops(store, *args, "--output", "json")
    assert result.returncode == 0, result.stderr
    return result.json()


# ---- the runs page -------------------------------------------------------------------------------------------
def test_the_runs_page_lists_every_run_newest_first(recorded: Recorded) -> None:
    page = recorded.client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    listed = rows(page.text)
    assert listed == [d["run_id"] for d in cli_json(recorded.store, "runs")]
    assert listed[0] == "t-killed" and listed[-1] == "t-good" and len(listed) == 7
    assert 'href="/runs/t%2Freplace"' in page.text  # a '/' in an id is escaped in links
    good = _row(page.text, "t-good")
    assert 'data-status="succeeded"' in good and "badge-good" in good
    assert 'href="https://github.com/acme/shop/actions/runs/4242"' in good and "alice" in good
    assert "badge-warn" in _row(page.text, "t-broken")
    assert "running" in _row(page.text, "t-killed")


def _row(body: str, run_id: str) -> str:
    match = re.search(rf'<tr class="run[^"]*" data-run-id="{re.escape(run_id)}".*?</tr>', body, re.S)
    assert match, run_id
    return match.group(0)


@pytest.mark.parametrize(
    ("query", "cli_args"),
    [
        ("status=rolled_back", ["--status", "rolled_back"]),
        ("target=demo/web", ["--target", "demo/web"]),
        ("target=batch/api", ["--target", "batch/api"]),
        ("operation=replace-instances", ["--operation", "replace-instances"]),
        ("who=alice", ["--who", "alice"]),
        ("since=2000-01-01&limit=2", ["--since", "2000-01-01", "--limit", "2"]),
    ],
)
def test_filters_narrow_the_runs_as_the_cli_does(recorded: Recorded, query: str, cli_args: list[str]) -> None:
    page = recorded.client.get(f"/?{query}")
    assert page.status_code == 200
    expected = [d["run_id"] for d in cli_json(recorded.store, "runs", *cli_args)]
    assert rows(page.text) == expected and expected
    assert recorded.client.get(f"/api/runs?{query}").json() == cli_json(recorded.store, "runs", *cli_args)


def test_until_pages_back_and_older_runs_links_to_the_next_page(recorded: Recorded) -> None:
    first = recorded.client.get("/?limit=3")
    assert rows(first.text) == ["t-killed", "t-hostile", "t/replace"]
    older = re.search(r'id="older" href="([^"]+)"', first.text)
    assert older, first.text
    second = recorded.client.get(html.unescape(older.group(1)))
    assert rows(second.text) == ["t-fleet", "t-bluegreen", "t-broken"]
    assert 'id="newest"' in second.text
    older = re.search(r'id="older" href="([^"]+)"', second.text)
    assert older, second.text
    last = recorded.client.get(html.unescape(older.group(1)))
    assert rows(last.text) == ["t-good"] and 'id="older"' not in last.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=bogus", "--status 'bogus': expected one of"),
        ("since=yesterday", "--since 'yesterday': expected an ISO date"),
        ("until=soon", "--until 'soon': expected an ISO date"),
        ("operation=nope", "--operation 'nope': expected one of"),
        ("limit=0", "limit '0'"),
        ("limit=501", "limit '501'"),
    ],
)
def test_a_bad_filter_is_a_400_page_with_the_message(recorded: Recorded, query: str, message: str) -> None:
    page = recorded.client.get(f"/?{query}")
    assert page.status_code == 400
    assert escape(message) in page.text and 'id="filter-error"' in page.text
    assert "Traceback" not in page.text
    assert 'id="filters"' in page.text  # the form stays, to correct the filter


def test_the_api_answers_400_with_the_cli_message(recorded: Recorded) -> None:
    answer = recorded.client.get("/api/runs?status=bogus")
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("--status 'bogus': expected one of")


# ---- the API is the CLI's JSON -------------------------------------------------------------------------------
def test_api_runs_is_exactly_runs_output_json(recorded: Recorded) -> None:
    answer = recorded.client.get("/api/runs")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.json() == cli_json(recorded.store, "runs")
    assert recorded.client.get("/api/runs?limit=500").json() == cli_json(recorded.store, "runs", "--limit", "500")


@pytest.mark.parametrize("run_id", ["t-good", "t-broken", "t-bluegreen", "t-fleet", "t/replace", "t-hostile"])
def test_api_run_is_exactly_status_output_json(recorded: Recorded, run_id: str) -> None:
    answer = recorded.client.get(f"/api/runs/{run_id}")
    assert answer.status_code == 200
    assert answer.json() == cli_json(recorded.store, "status", run_id)


def test_api_unknown_and_malformed_runs_are_404_json(recorded: Recorded) -> None:
    unknown = recorded.client.get("/api/runs/no-such-run")
    assert unknown.status_code == 404 and "no run with id 'no-such-run'" in unknown.json()["error"]
    malformed = recorded.client.get("/api/runs/%3Cscript%3E")
    assert malformed.status_code == 404 and "not a run id" in malformed.json()["error"]


# ---- run pages -----------------------------------------------------------------------------------------------
def test_a_good_deploy_shows_outcome_changes_timeline_machine_and_steps(recorded: Recorded) -> None:
    page = recorded.client.get("/runs/t-good")
    assert page.status_code == 200
    body = page.text
    header = _section(body, "run-header")
    assert 'data-status="succeeded"' in header and "Succeeded" in header and "completed: running 3/3" in header
    changes = _section(body, "changes")
    assert "web:1" in changes and "web:2" in changes and "a new revision was registered" in changes
    assert re.search(r'class="before"[^>]*>2</span>\s*<span class="arrow"[^>]*>→</span>\s*<span class="after"[^>]*>3<',
                     changes), changes
    assert '<svg class="timeline"' in _section(body, "timeline")
    assert '<svg class="machine"' in _section(body, "machine")
    steps = _section(body, "steps")
    assert 'data-step="register_task_definition"' in steps and 'data-step="update_service"' in steps
    assert 'data-step-status="succeeded"' in steps
    assert 'href="https://github.com/acme/shop/actions/runs/4242"' in _section(body, "run-header")
    assert 'id="lock"' not in body and 'data-finished="true"' in body
    assert 'id="transitions"' in body and "<td>waiting</td><td>succeeded</td>" in body.replace("\n", "")


def _section(body: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}".*?</section>', body, re.S)
    assert match, f"no section {section_id}"
    return match.group(0)


def test_what_changed_is_the_task_definition_diff_as_recorded(recorded: Recorded) -> None:
    diff = _section(recorded.client.get("/runs/t-good").text, "changes")
    found = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r'<tr class="diff-row">(.*?)</tr>',
                                                                                   diff, re.S)]
    assert [[re.sub(r"<[^>]+>", "", cell) for cell in row] for row in found] == [
        ["app", "image", "nginx:1.25", "nginx:1.27"],
        ["app", "env BANNER", "(unset)", str(escape(HOSTILE_ENV))],
    ]
    # What `ecsops deploy` printed of it, from its journal.
    journal = _section(recorded.client.get("/runs/t-good").text, "messages")
    assert "image: nginx:1.25 -&gt; nginx:1.27" in journal
    fleet_item = _section(recorded.client.get("/runs/t-fleet/items/batch%2Fapi").text, "changes")
    assert "nginx:1.25" in fleet_item and "nginx:1.27" in fleet_item and "tags" not in fleet_item


def test_a_blue_green_deploy_shows_its_stages_and_bake(recorded: Recorded) -> None:
    body = recorded.client.get("/runs/t-bluegreen").text
    assert 'data-stage="BAKE_TIME"' in _section(body, "timeline")
    journal = _section(body, "messages")
    assert '<tr class="message kind-stage"' in journal and "BAKE_TIME" in journal
    assert "BLUE_GREEN" in _section(body, "changes")


def test_a_rolled_back_deploy_shows_its_reason_and_task_failures(recorded: Recorded) -> None:
    body = recorded.client.get("/runs/t-broken").text
    header = _section(body, "run-header")
    assert "Rolled back" in header and "badge-warn" in header and "circuit breaker" in header
    failures = _section(body, "task-failures")
    assert "failed to start" in failures and "nginx:broken" in failures
    assert '<svg class="timeline"' in body


def test_a_fleet_run_has_a_row_per_service_linking_to_its_page(recorded: Recorded) -> None:
    body = recorded.client.get("/runs/t-fleet").text
    services = _section(body, "services")
    assert re.findall(r'data-item="([^"]+)"', services) == ["batch/api", "batch/worker"]
    assert 'href="/runs/t-fleet/items/batch%2Fapi"' in services
    assert body.count('<svg class="machine"') == 2  # the fleet's machine, and its services'
    assert "batch/worker" in _section(body, "task-failures")

    item = recorded.client.get("/runs/t-fleet/items/batch%2Fworker")
    assert item.status_code == 200
    assert 'data-item="batch/worker"' in item.text and 'data-state="rolled_back"' in item.text
    assert "worker:1" in _section(item.text, "changes")
    assert '<svg class="machine"' in item.text and '<svg class="timeline"' in item.text
    assert 'id="facts"' in item.text
    # Typed by hand, unescaped: the first /items/ ends the run id.
    assert recorded.client.get("/runs/t-fleet/items/batch/api").status_code == 200
    missing = recorded.client.get("/runs/t-fleet/items/batch%2Fnope")
    assert missing.status_code == 404 and "has no item" in missing.text


def test_a_replacement_shows_its_instances_and_their_states(recorded: Recorded) -> None:
    page = recorded.client.get("/runs/t%2Freplace")
    assert page.status_code == 200
    instances = _section(page.text, "instances")
    ids = re.findall(r'<tr class="instance" data-item="([^"]+)" data-state="terminated"', instances)
    assert ids and all(i.startswith("i-") for i in ids)
    assert f'href="/runs/t%2Freplace/items/{ids[0]}"' in instances
    assert recorded.client.get(f"/runs/t%2Freplace/items/{ids[0]}").status_code == 200
    assert recorded.client.get("/runs/t/replace").status_code == 200  # by hand, the '/' unescaped


def test_an_unfinished_run_shows_its_lock_and_polls(recorded: Recorded) -> None:
    page = recorded.client.get("/runs/t-killed")
    body = page.text
    assert 'data-finished="false"' in body and '<script src="/static/live.js" defer></script>' in body
    lock = _section(body, "lock")
    assert "gone" in lock and "ecsops resume t-killed" in lock
    assert 'id="live-note"' in body


def test_every_value_from_a_run_or_aws_is_escaped(recorded: Recorded) -> None:
    for path in ("/", "/runs/t-hostile", "/runs/t-good", "/?status=abandoned"):
        body = recorded.client.get(path).text
        assert "<script>alert" not in body and "<img src=x" not in body, path
        assert 'href="javascript:' not in body, path
    hostile = recorded.client.get("/runs/t-hostile").text
    assert escape(HOSTILE_REASON) in _section(hostile, "run-header")
    assert "javascript:alert(3)" not in hostile  # the CI job's URL is not http(s): not linked, not shown
    assert escape(HOSTILE_ENV) in recorded.client.get("/runs/t-good").text  # in the step request
    listing = recorded.client.get("/").text
    assert escape(HOSTILE_REASON) in _row(listing, "t-hostile")
    assert "<script" not in listing.replace('<script src="/static/live.js"', "")


# ---- the live part -------------------------------------------------------------------------------------------
def test_the_live_part_answers_304_until_the_run_changes(recorded: Recorded, tmp_path: Path) -> None:
    store = tmp_path / "copy.db"
    source = sqlite3.connect(recorded.store)
    with sqlite3.connect(store) as copy:
        source.backup(copy)
    source.close()
    client = TestClient(create_app(str(store)))
    page = client.get("/runs/t-killed")
    tag = page.headers["etag"]
    assert f'data-etag="{escape(tag)}"' in page.text
    part = client.get("/runs/t-killed?part=live", headers={"If-None-Match": tag})
    assert part.status_code == 304
    assert run_ecsops(store, "abandon", "t-killed", "--reason", "enough").returncode == 0
    changed = client.get("/runs/t-killed?part=live", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    assert changed.text.lstrip().startswith('<div id="live"') and 'data-finished="true"' in changed.text
    assert "<html" not in changed.text and "enough" in changed.text


def test_a_team_store_shows_a_run_driven_on_other_runners_as_it_goes(aws_env: SimServer, tmp_path: Path) -> None:
    make_table()
    client = TestClient(create_app(STORE_URL))  # one store opened for the whole app, as `ecsops ui` does
    assert client.get("/api/runs").json() == []
    killed = runner(tmp_path / "runner-a", "deploy", *WEB, "--container-image", "app=nginx:1.27", "--run-id", "team-1",
                    ECSOPS_CRASH_AT="enter:waiting")
    assert killed.returncode == -9, killed.stderr
    page = client.get("/runs/team-1")
    assert page.status_code == 200 and 'data-finished="false"' in page.text and 'id="lock"' in page.text
    tag = page.headers["etag"]
    assert client.get("/runs/team-1?part=live", headers={"If-None-Match": tag}).status_code == 304

    assert runner(tmp_path / "runner-b", "resume", "team-1").returncode == 0
    changed = client.get("/runs/team-1?part=live", headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert 'data-finished="true"' in changed.text and 'data-status="succeeded"' in changed.text
    status = runner(tmp_path / "runner-c", "status", "team-1", "--output", "json")
    assert client.get("/api/runs/team-1").json() == status.json()
    listed = runner(tmp_path / "runner-c", "runs", "--output", "json")
    assert client.get("/api/runs").json() == listed.json()
    assert rows(client.get("/?target=demo/web").text) == ["team-1"]


# ---- read-only, headers, ids, an unreadable store ------------------------------------------------------------
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/", "/runs/t-good", "/api/runs", "/api/runs/t-good", "/static/ui.css", "/nope"])
def test_every_method_but_get_is_405(recorded: Recorded, method: str, path: str) -> None:
    answer = recorded.client.request(method, path)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/", "/runs/t-good", "/api/runs", "/static/ui.css", "/runs/no-such-run"])
def test_every_answer_carries_the_security_headers(recorded: Recorded, path: str) -> None:
    answer = recorded.client.get(path)
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "unsafe-inline" not in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"


def test_static_assets_are_served(recorded: Recorded) -> None:
    css = recorded.client.get("/static/ui.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    script = recorded.client.get("/static/live.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]


def _unreadable(tmp_path: Path, kind: str) -> tuple[str, str]:
    """(store location, the message `ecsops runs` gives for it)."""
    if kind == "directory":
        location = tmp_path
    else:
        location = tmp_path / "not-a-store.db"
        location.write_text("this is not SQLite\n" * 100)
    result = run_ecsops(location, "runs")
    assert result.returncode == 2
    message = re.fullmatch(r"error: (.+) \(see '.*'\)\n", result.stderr)
    assert message, result.stderr
    return str(location), message.group(1)


@pytest.mark.parametrize("kind", ["directory", "not sqlite"])
@pytest.mark.parametrize("path", ["/", "/runs/t-good", "/runs/t-good/items/x"])
def test_a_store_that_cannot_be_read_is_503_with_the_cli_message(tmp_path: Path, kind: str, path: str) -> None:
    location, message = _unreadable(tmp_path, kind)
    page = TestClient(create_app(location)).get(path)
    assert page.status_code == 503
    assert escape(message) in page.text
    assert "Traceback" not in page.text and 'File "' not in page.text
    api = TestClient(create_app(location)).get("/api/runs")
    assert api.status_code == 503 and api.json() == {"error": message}


def test_a_missing_store_is_503_and_is_not_created(tmp_path: Path) -> None:
    location = tmp_path / "never.db"
    page = TestClient(create_app(str(location))).get("/")
    assert page.status_code == 503 and "there is no store at" in page.text
    assert not location.exists()


@pytest.mark.parametrize(
    "path",
    ["/runs/-starts-with-a-dash", "/runs/has%20space", "/runs/" + "a" * 129, "/runs/%3Cscript%3E",
     "/runs/a/items/-bad", "/runs/", "/runs/..%2F..%2Fetc%2Fpasswd", "/runs/ok/items/"],
)
def test_bad_ids_are_404_without_reading_the_store(tmp_path: Path, path: str) -> None:
    location, _ = _unreadable(tmp_path, "directory")  # reading it would answer 503
    page = TestClient(create_app(location)).get(path)
    assert page.status_code == 404
    assert "Not a run" in page.text


def test_an_unknown_run_is_a_404_page(recorded: Recorded) -> None:
    page = recorded.client.get("/runs/no-such-run")
    assert page.status_code == 404 and "no run with id &#39;no-such-run&#39;" in page.text


def test_the_journal_shows_its_last_200_lines_and_says_how_many_are_left_out() -> None:
    from ecsops.cli.ui import run_view

    document = {"messages": [{"seq": n, "kind": "progress", "text": f"line {n}", "item": None,
                              "at": "2026-01-01T00:00:00+00:00"} for n in range(1, 251)]}
    shown, hidden = run_view.messages(document)
    assert hidden == 50 and len(shown) == 200 and shown[0].text == "line 51" and shown[-1].text == "line 250"
