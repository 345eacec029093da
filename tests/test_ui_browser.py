"""`ecsops ui` in a real browser: headless Chromium (Debian's) driven by Playwright, against an `ecsops ui` process
serving a store filled by real runs against the simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_ecsops
from deploy_helpers import read_until
from strategy_helpers import GOOD, native_demo, pause_hook, start_native_deploy
from ui_browser import audit_store, chromium, ui_server

from devtools.audit_store import HOSTILE_ENV, HOSTILE_REASON
from ecsops.sim.server import SimServer

RUN_IDS = {"ui-good", "ui-broken", "ui-bluegreen", "ui-fleet", "ui-replace", "ui-hostile"}


@pytest.fixture(scope="module")
def served(sim_server: SimServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """(store, base URL): the audit store, and `ecsops ui` serving it."""
    store = audit_store(sim_server, tmp_path_factory.mktemp("ui-browser") / "audit.db")
    with ui_server(store) as url:
        yield store, url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that fails the test on any dialog (an alert() from injected script) or script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    opened.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    try:
        yield opened
    finally:
        context.close()
    assert problems == []


def listed(page: Any) -> list[str]:
    return [str(row.get_attribute("data-run-id")) for row in page.locator("#runs tr.run").all()]


def test_the_runs_page_lists_every_run_newest_first(served: tuple[Path, str], page: Any) -> None:
    store, url = served
    page.goto(f"{url}/")
    shown = listed(page)
    assert set(shown) >= RUN_IDS
    cli_order = [d["run_id"] for d in run_ecsops(store, "runs", "--output", "json").json()]
    assert shown == cli_order
    broken = page.locator('#runs tr.run[data-run-id="ui-broken"]')
    assert broken.locator("span.badge").get_attribute("data-status") == "rolled_back"
    assert "badge-warn" in str(broken.locator("span.badge").get_attribute("class"))
    # The CI job that started the good deploy is a link to it.
    job = page.locator('#runs tr.run[data-run-id="ui-good"] a[href^="https://github.com/acme/shop/actions/runs/4242"]')
    assert job.count() == 1


def test_a_filter_narrows_the_list_and_the_url_can_be_shared(served: tuple[Path, str], page: Any) -> None:
    _, url = served
    page.goto(f"{url}/")
    page.select_option("#f-status", "rolled_back")
    page.click("#f-apply")
    page.wait_for_url("**status=rolled_back**")
    assert listed(page) == ["ui-broken"]
    # The same filters as a link: status and target, as `ecsops runs` names them.
    page.goto(f"{url}/?target=demo/web&status=succeeded")
    assert set(listed(page)) == {"ui-good", "ui-fleet"}  # the fleet deployed demo/web too
    assert page.input_value("#f-target") == "demo/web"
    page.goto(f"{url}/?status=nonsense")
    assert "--status 'nonsense'" in page.inner_text("#filter-error")


def test_a_run_page_draws_its_timeline_and_the_path_it_took(served: tuple[Path, str], page: Any) -> None:
    _, url = served
    page.goto(f"{url}/runs/ui-broken")
    assert page.get_attribute("#run-header", "data-status") == "rolled_back"
    timeline = page.locator("#timeline svg.timeline")
    assert timeline.is_visible()
    states = [bar.get_attribute("data-state") for bar in timeline.locator("rect.bar").all()]
    assert states[:2] == ["planned", "snapshotted"] and "ecs_rolling_back" in states
    rollback = timeline.locator('rect.bar[data-state="ecs_rolling_back"]')
    assert "rollback" in str(rollback.get_attribute("class"))
    machine = page.locator("#machine svg.machine")
    assert machine.is_visible()
    taken = {(edge.get_attribute("data-source"), edge.get_attribute("data-dest"))
             for edge in machine.locator(".edge.taken").all()}
    assert taken == {("planned", "snapshotted"), ("snapshotted", "registering"), ("registering", "updating"),
                     ("updating", "waiting"), ("waiting", "ecs_rolling_back"), ("ecs_rolling_back", "rolled_back")}
    visited = {node.get_attribute("data-state") for node in machine.locator(".node.visited").all()}
    assert "rolled_back" in visited and "succeeded" not in visited
    # The box is drawn: a chart a person can see, not an empty element.
    box = timeline.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 40
    assert page.locator("#task-failures tr.failure").count() >= 1


def test_a_fleet_run_links_each_service_to_its_part(served: tuple[Path, str], page: Any) -> None:
    _, url = served
    page.goto(f"{url}/runs/ui-fleet")
    rows = page.locator("#services tr.service")
    assert rows.count() == 3
    rows.first.locator("a").first.click()
    page.wait_for_selector("#item-header")
    assert page.get_attribute("#item-header", "data-state") == "succeeded"
    assert page.locator("svg.machine .edge.taken").count() >= 1


def test_hostile_text_is_shown_as_text_and_runs_nothing(served: tuple[Path, str], page: Any) -> None:
    _, url = served
    page.goto(f"{url}/runs/ui-hostile")
    assert page.inner_text("#reason").split("\n")[-1].strip() == HOSTILE_REASON
    page.goto(f"{url}/runs/ui-good")
    assert HOSTILE_ENV in page.inner_text("#changes")
    assert page.locator("img[src=x]").count() == 0
    page.goto(f"{url}/?status=abandoned")
    assert HOSTILE_REASON in page.inner_text('#runs tr.run[data-run-id="ui-hostile"]')
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
    # The page fixture fails the test if any alert() ran.


def test_only_get_is_answered(served: tuple[Path, str], page: Any) -> None:
    _, url = served
    page.goto(f"{url}/")
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status = page.evaluate(f"fetch('/runs/ui-good', {{method: '{method}'}}).then(r => r.status)")
        assert status == 405, method
    assert page.evaluate("fetch('/api/runs/ui-good').then(r => r.status)") == 200


def test_a_live_run_page_follows_the_run_without_reloading(
    served: tuple[Path, str], page: Any, aws_env: SimServer
) -> None:
    """A blue/green deploy waits at a PAUSE hook; the page shows it paused; `ecsops approve` lets it finish; the
    open page turns to succeeded by itself, without a reload."""
    store, url = served
    aws_env.reset(native_demo("BLUE_GREEN", bake=5, lifecycle_hooks=[pause_hook()]))
    driver = start_native_deploy(store, *GOOD, "--timeout", "7m", "--run-id", "ui-live", "--output", "json")
    try:
        read_until(driver, "ecsops approve ui-live --rollback")
        page.goto(f"{url}/runs/ui-live")
        assert page.get_attribute("#run-header", "data-state") == "paused"
        assert page.get_attribute("#live", "data-finished") == "false"
        page.evaluate("window.loadedOnce = 'same page'")
        assert run_ecsops(store, "approve", "ui-live").returncode == 0
        stdout, stderr = driver.communicate(timeout=120)
    finally:
        driver.kill()
    assert driver.returncode == 0, stderr
    assert json.loads(stdout)["status"] == "succeeded"
    # live.js polls every 2 s; the page's CSP lets no evaluated string run, so wait on the attribute itself.
    page.wait_for_selector('#live[data-finished="true"]', state="attached", timeout=20000)
    assert page.get_attribute("#run-header", "data-status") == "succeeded"
    assert page.evaluate("window.loadedOnce") == "same page"  # no reload: the script's state survived
    assert int(page.get_attribute("#live", "data-updates") or 0) >= 1
    bars = page.locator("#timeline svg.timeline rect.bar")
    assert "paused" in [bar.get_attribute("data-state") for bar in bars.all()]
    assert page.locator('#messages tr.message.kind-stage').count() >= 1  # the lifecycle stages it went through
