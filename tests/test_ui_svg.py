"""The ui's SVG pictures: a run's timeline and its machine's diagram, read back as XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ecsops.cli.ui.machine_svg import machine_svg
from ecsops.cli.ui.svg_common import human_duration
from ecsops.cli.ui.timeline_svg import CHART_LEFT, CHART_RIGHT, MAX_LANES, MIN_BAR_WIDTH, timeline_svg
from machines.definition import MachineDefinition, Transition
from machines.deploy import DEPLOY
from machines.deploy_fleet import FLEET_DEFINITION, SERVICE_DEFINITION
from machines.replace_instances import INSTANCE_DEFINITION, RUN_DEFINITION

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>"
GOOD_PATH = [("planned", "snapshotted", "snapshot"), ("snapshotted", "registering", "register"),
             ("registering", "updating", "registered"), ("updating", "waiting", "updated"),
             ("waiting", "succeeded", "stable")]


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def run_document(steps: list[tuple[str, str, str, float, str | None]], *, end: float | None,
                 updated: float | None = None, **fields: Any) -> dict[str, Any]:
    """A run document as documents.history_document shapes it; steps are (source, dest, trigger, seconds, item)."""
    run_steps = [step for step in steps if step[4] is None]
    state = run_steps[-1][1] if run_steps else "planned"
    document: dict[str, Any] = {
        "run_id": "r-1", "operation": "deploy", "status": state if end is not None else "running", "state": state,
        "target": "ecs:123456789012:us-east-1:demo/web", "started_at": at(0),
        "updated_at": at(updated if updated is not None else end if end is not None else steps[-1][3]),
        "finished_at": None if end is None else at(end), "reason": None, "params": {}, "steps": [],
        "in_flight": [], "notes": [],
        "transitions": [{"seq": seq, "source": source, "dest": dest, "trigger": trigger, "at": at(seconds),
                         "item": item} for seq, (source, dest, trigger, seconds, item) in enumerate(steps, 1)],
    }
    document.update(fields)
    return document


def good_deploy() -> dict[str, Any]:
    times = [1, 2, 5, 10, 70]
    return run_document([(s, d, t, when, None) for (s, d, t), when in zip(GOOD_PATH, times, strict=True)], end=70)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises unless the markup is well-formed XML


def bars(root: ET.Element) -> list[ET.Element]:
    return [rect for rect in root.iter(f"{SVG}rect") if "bar" in rect.get("class", "").split()]


def lanes(root: ET.Element) -> dict[float, list[ET.Element]]:
    """The bars by lane (their y), each lane's in document order."""
    by_y: dict[float, list[ET.Element]] = {}
    for bar in bars(root):
        by_y.setdefault(float(bar.get("y", "0")), []).append(bar)
    return by_y


def x_at(seconds: float, span: float) -> float:
    return CHART_LEFT + seconds / span * (CHART_RIGHT - CHART_LEFT)


def test_each_state_is_a_bar_from_the_transition_that_entered_it_to_the_next() -> None:
    root = parse(timeline_svg(good_deploy()))
    assert root.tag == f"{SVG}svg" and root.get("class") == "timeline" and root.get("role") == "img"
    [run_lane] = lanes(root).values()
    assert [bar.get("data-state") for bar in run_lane] == [
        "planned", "snapshotted", "registering", "updating", "waiting", "succeeded"]
    starts = [0, 1, 2, 5, 10, 70]
    ends = [1, 2, 5, 10, 70, 70]
    for bar, start, end in zip(run_lane, starts, ends, strict=True):
        assert float(bar.get("x", "")) == pytest.approx(x_at(start, 70), abs=0.1)
        expected = max(MIN_BAR_WIDTH, x_at(end, 70) - x_at(start, 70))
        assert float(bar.get("width", "")) == pytest.approx(expected, abs=0.1)
    assert "success" in run_lane[-1].get("class", "").split()
    assert "ended by stable" in (run_lane[-2].findtext(f"{SVG}title") or "")
    assert "for 1m 00s" in (run_lane[-2].findtext(f"{SVG}title") or "")
    [marker] = [rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == "end-marker"]
    assert float(marker.get("x", "")) == pytest.approx(x_at(70, 70) - 1.5, abs=0.1)


def test_a_rollback_has_its_own_category_and_a_pause_is_a_pause() -> None:
    document = run_document([
        ("planned", "snapshotted", "snapshot", 1, None), ("snapshotted", "updating", "reuse", 2, None),
        ("updating", "binding", "started", 3, None), ("binding", "following", "bound", 4, None),
        ("following", "paused", "hook_paused", 20, None), ("paused", "following", "hook_acted", 80, None),
        ("following", "stopping", "deploy_failed", 90, None), ("stopping", "rolled_back", "rollback_done", 120, None),
    ], end=120)
    kinds = {bar.get("data-state"): set(bar.get("class", "").split()) for bar in bars(parse(timeline_svg(document)))}
    assert "rollback" in kinds["stopping"] and "rollback" in kinds["rolled_back"]
    assert "pause" in kinds["paused"] and "rollback" not in kinds["paused"]
    assert "wait" in kinds["following"] and "state-following" in kinds["following"]
    others = [classes for state, classes in kinds.items() if state not in ("stopping", "rolled_back")]
    assert not any("rollback" in classes for classes in others)


def test_ecs_rolling_back_and_a_failed_rollback_are_rollback_too() -> None:
    document = run_document([("waiting", "ecs_rolling_back", "ecs_rolled_back", 5, None),
                             ("ecs_rolling_back", "rollback_failed", "rollback_failed", 9, None)], end=9)
    kinds = {bar.get("data-state"): bar.get("class", "").split() for bar in bars(parse(timeline_svg(document)))}
    assert kinds["ecs_rolling_back"][-1] == kinds["rollback_failed"][-1] == "rollback"
    assert kinds["waiting"][-1] == "wait"


def blue_green(**fields: Any) -> dict[str, Any]:
    steps = [("planned", "snapshotted", "snapshot", 1, None), ("snapshotted", "updating", "reuse", 2, None),
             ("updating", "binding", "started", 3, None), ("binding", "following", "bound", 10, None),
             ("following", "succeeded", "stable", 2000, None)]
    stages = [("PRE_SCALE_UP", 10), ("SCALE_UP", 20), ("TEST_TRAFFIC_SHIFT", 60), ("PRODUCTION_TRAFFIC_SHIFT", 120),
              ("BAKE_TIME", 200), ("CLEAN_UP", 1900)]
    messages = [{"seq": seq, "kind": "stage", "text": text, "item": None, "at": at(when)}
                for seq, (text, when) in enumerate(stages, 1)]
    messages.append({"seq": 9, "kind": "progress", "text": "3/3 tasks running", "item": None, "at": at(30)})
    return run_document(steps, end=2000, messages=messages, **fields)


def test_the_bake_time_of_a_blue_green_deploy_is_a_band_inside_its_following_bar() -> None:
    root = parse(timeline_svg(blue_green()))
    stages = [group for group in root.iter(f"{SVG}g") if "stage" in group.get("class", "").split()]
    assert [group.get("data-stage") for group in stages] == [
        "PRE_SCALE_UP", "SCALE_UP", "TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP"]
    [bake] = [group for group in stages if group.get("class") == "stage bake"]
    assert bake.findtext(f"{SVG}text") == "bake"
    assert "for 28m 20s" in (bake.findtext(f"{SVG}title") or "")
    band = bake.find(f"{SVG}rect")
    assert band is not None
    [following] = [bar for bar in bars(root) if bar.get("data-state") == "following"]
    left, right = float(following.get("x", "")), float(following.get("x", "")) + float(following.get("width", ""))
    band_left = float(band.get("x", ""))
    assert left < band_left < band_left + float(band.get("width", "")) < right
    assert band_left == pytest.approx(x_at(200, 2000), abs=0.1)
    # the last stage ends when the lane reached its final state
    clean_up = stages[-1].find(f"{SVG}rect")
    assert clean_up is not None
    assert float(clean_up.get("x", "")) + float(clean_up.get("width", "")) == pytest.approx(x_at(2000, 2000), abs=0.1)


def test_a_fleet_service_stage_goes_under_its_own_lane() -> None:
    document = run_document([("planned", "rolling", "start", 1, None),
                             ("pending", "planned", "start", 2, "demo/bg"),
                             ("planned", "following", "bound", 3, "demo/bg")], end=None, updated=60)
    document["messages"] = [{"seq": 1, "kind": "stage", "text": "BAKE_TIME", "item": "demo/bg", "at": at(30)}]
    root = parse(timeline_svg(document))
    [bake] = [group for group in root.iter(f"{SVG}g") if group.get("class") == "stage bake"]
    band = bake.find(f"{SVG}rect")
    assert band is not None
    service_lane_y = sorted(lanes(root))[1]
    assert float(band.get("y", "")) > service_lane_y
    assert float(band.get("y", "")) < service_lane_y + 30


def test_text_from_a_run_is_escaped_everywhere() -> None:
    document = run_document([("planned", "rolling", "start", 1, None),
                             ("pending", HOSTILE, HOSTILE, 2, HOSTILE),
                             (HOSTILE, "succeeded", "stable", 3, HOSTILE)], end=4, run_id=HOSTILE, status=HOSTILE)
    document["messages"] = [{"seq": 1, "kind": "stage", "text": HOSTILE, "item": HOSTILE, "at": at(2.5)},
                            {"seq": 2, "kind": "stage", "text": HOSTILE, "item": None, "at": at(1.5)}]
    svg = timeline_svg(document)
    root = parse(svg)
    assert not [element for element in root.iter() if element.tag.endswith("script")]
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert HOSTILE in "".join(root.itertext())  # readable as text, not run as markup
    hostile = [bar for bar in bars(root) if bar.get("data-state") == HOSTILE]
    assert len(hostile) == 1 and "state-" in hostile[0].get("class", "") and "<" not in hostile[0].get("class", "")


def test_a_running_run_extends_to_now_or_else_to_its_last_update() -> None:
    document = run_document([("planned", "snapshotted", "snapshot", 1, None),
                             ("snapshotted", "registering", "register", 2, None),
                             ("registering", "updating", "registered", 3, None),
                             ("updating", "waiting", "updated", 4, None)], end=None, updated=30)
    for now, span in ((at(100), 100), (None, 30)):
        root = parse(timeline_svg(document, now=now))
        waiting = bars(root)[-1]
        assert waiting.get("data-state") == "waiting"
        assert float(waiting.get("x", "")) == pytest.approx(x_at(4, span), abs=0.1)
        assert float(waiting.get("x", "")) + float(waiting.get("width", "")) == pytest.approx(CHART_RIGHT, abs=0.1)
        assert "still in it" in (waiting.findtext(f"{SVG}title") or "")
        assert not [rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == "end-marker"]


def test_items_get_lanes_in_order_of_first_appearance_and_the_lanes_are_capped() -> None:
    steps: list[tuple[str, str, str, float, str | None]] = [("planned", "rolling", "start", 0.5, None)]
    for index in range(100):
        steps.append(("pending", "planned", "start", 1 + index, f"demo/svc-{99 - index:02d}"))
    root = parse(timeline_svg(run_document(steps, end=None, updated=200)))
    labels = [text for text in root.iter(f"{SVG}text") if "lane-label" in text.get("class", "")]
    assert len(labels) == MAX_LANES
    assert [label.text for label in labels[:3]] == ["run", "demo/svc-99", "demo/svc-98"]
    [more] = [text for text in root.iter(f"{SVG}text") if text.get("class") == "more"]
    assert (more.text or "").startswith(f"+{101 - MAX_LANES} more")
    assert len(lanes(root)) == MAX_LANES


def test_a_thousand_transitions_render_every_lane_they_can() -> None:
    steps: list[tuple[str, str, str, float, str | None]] = [("planned", "rolling", "start", 0, None)]
    path = [("pending", "planned", "start"), *GOOD_PATH[:-1], ("waiting", "rolling_back", "revert"),
            ("rolling_back", "rolled_back", "rollback_done")]
    for service in range(-(-1000 // len(path))):  # rounded up
        steps += [(s, d, t, service * 3 + i * 0.5, f"c/svc-{service}") for i, (s, d, t) in enumerate(path)]
    assert len(steps) >= 1000
    svg = timeline_svg(run_document(steps, end=None, updated=600))
    root = parse(svg)
    assert len(lanes(root)) == MAX_LANES
    assert len(bars(root)) == 2 + (MAX_LANES - 1) * (len(path) + 1)  # planned and rolling, then each service's
    assert len(svg) < 1_500_000


def test_a_run_without_transitions_draws_its_current_state() -> None:
    document = run_document([("planned", "queued", "queue", 1, None)], end=None, updated=5)
    document["transitions"] = []
    document["state"] = "planned"
    [bar] = bars(parse(timeline_svg(document)))
    assert bar.get("data-state") == "planned"
    assert float(bar.get("x", "")) == CHART_LEFT and float(bar.get("width", "")) == pytest.approx(
        CHART_RIGHT - CHART_LEFT, abs=0.1)


def test_timestamps_that_cannot_be_read_are_skipped_never_raised() -> None:
    document = good_deploy()
    document["transitions"][2]["at"] = "not a time"
    document["transitions"][3]["at"] = None
    document["messages"] = [{"kind": "stage", "text": "BAKE_TIME", "at": "soon"}, "not a message"]
    states = [bar.get("data-state") for bar in bars(parse(timeline_svg(document)))]
    # updating and waiting cannot be placed: registering's bar runs on to the next time that can
    assert states == ["planned", "snapshotted", "registering", "succeeded"]
    document["started_at"] = document["finished_at"] = document["updated_at"] = "garbage"
    for transition in document["transitions"]:
        transition["at"] = 12
    root = parse(timeline_svg(document, now="also garbage"))
    assert [text.text for text in root.iter(f"{SVG}text") if "lane-label" in text.get("class", "")] == ["run"]


def test_times_out_of_order_or_years_off_keep_the_bars_in_order_inside_the_chart() -> None:
    document = good_deploy()
    document["transitions"][1]["at"] = "9999-12-31T23:59:59+00:00"
    document["transitions"][3]["at"] = at(-50)
    for finished in (at(70), None):
        document["finished_at"] = finished
        root = parse(timeline_svg(document))
        xs = [float(bar.get("x", "")) for bar in bars(root)]
        assert xs == sorted(xs)
        assert all(float(bar.get("x", "")) + float(bar.get("width", "")) <= CHART_RIGHT + MIN_BAR_WIDTH
                   for bar in bars(root))
        ticks = [text for group in root.iter(f"{SVG}g") if group.get("class") == "axis"
                 for text in group.iter(f"{SVG}text")]
        assert 1 <= len(ticks) <= 9


def test_a_long_item_id_is_cut_with_an_ellipsis_and_kept_whole_in_its_tooltip() -> None:
    item = "arn:aws:ecs:us-east-1:123456789012:container-instance/production-cluster/0123456789abcdef"
    root = parse(timeline_svg(run_document([("pending", "detaching", "start", 1, item)], end=None, updated=3)))
    [label] = [text for text in root.iter(f"{SVG}text") if text.get("class") == "lane-label"]
    assert "…" in (label.text or "") and len(label.text or "") < len(item)
    assert label.findtext(f"{SVG}title") == item


def test_neither_picture_has_inline_styles_which_the_ui_content_security_policy_blocks() -> None:
    for svg in (timeline_svg(blue_green()), machine_svg(DEPLOY, taken=GOOD_PATH, current="succeeded")):
        root = parse(svg)
        assert not [element for element in root.iter() if "style" in element.attrib or element.tag == f"{SVG}style"]


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0.4s"), (12, "12s"), (185, "3m 05s"), (3720, "1h 02m"),
                                               (59.7, "1m 00s")])
def test_durations_read_as_a_person_would_say_them(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def nodes(root: ET.Element) -> dict[str, ET.Element]:
    return {group.get("data-state", ""): group for group in root.iter(f"{SVG}g")
            if "node" in group.get("class", "").split()}


def edges(root: ET.Element) -> dict[tuple[str, str], ET.Element]:
    return {(path.get("data-source", ""), path.get("data-dest", "")): path for path in root.iter(f"{SVG}path")
            if "edge" in path.get("class", "").split()}


def box(node: ET.Element) -> tuple[float, float, float, float]:
    rect = node.find(f"{SVG}rect")
    assert rect is not None
    return tuple(float(rect.get(name, "")) for name in ("x", "y", "width", "height"))  # type: ignore[return-value]


ALL_MACHINES = [DEPLOY, SERVICE_DEFINITION, FLEET_DEFINITION, RUN_DEFINITION, INSTANCE_DEFINITION]


@pytest.mark.parametrize("definition", ALL_MACHINES, ids=lambda definition: definition.name)
def test_every_state_is_a_node_and_every_declared_pair_an_edge_none_overlapping(definition: MachineDefinition
                                                                               ) -> None:
    root = parse(machine_svg(definition))
    assert root.get("class") == "machine" and root.get("role") == "img"
    drawn = nodes(root)
    assert sorted(drawn) == sorted(definition.states)
    pairs = {(source, t.dest) for t in definition.transitions for source in t.sources}
    assert set(edges(root)) == pairs
    rectangles = [box(node) for node in drawn.values()]
    for i, (x1, y1, w1, h1) in enumerate(rectangles):
        for x2, y2, w2, h2 in rectangles[i + 1:]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1, "two nodes overlap"
    markers = {marker.get("id") for marker in root.iter(f"{SVG}marker")}
    assert all(path.get("marker-end", "")[5:-1] in markers for path in edges(root).values())
    for state in definition.final_states:
        assert len(drawn[state].findall(f"{SVG}rect")) == 2  # double-bordered
    assert not any(len(node.findall(f"{SVG}rect")) == 2 for state, node in drawn.items()
                   if state not in definition.final_states)


def test_the_good_path_of_a_deploy_is_highlighted_exactly() -> None:
    root = parse(machine_svg(DEPLOY, taken=GOOD_PATH, current="succeeded"))
    visited = {state for state, node in nodes(root).items() if "visited" in node.get("class", "").split()}
    assert visited == {"planned", "snapshotted", "registering", "updating", "waiting", "succeeded"}
    current = [state for state, node in nodes(root).items() if "current" in node.get("class", "").split()]
    assert current == ["succeeded"]
    taken = {pair: path.get("data-taken") for pair, path in edges(root).items() if path.get("class") == "edge taken"}
    assert taken == {(source, dest): "1" for source, dest, _ in GOOD_PATH}
    assert all(path.get("class") == "edge" for pair, path in edges(root).items() if pair not in taken)


def test_an_edge_taken_twice_says_so_and_back_edges_stay_above_their_source() -> None:
    path = [("planned", "queued", "queue"), ("queued", "planned", "turn_came"), ("planned", "snapshotted", "snapshot"),
            ("snapshotted", "updating", "reuse"), ("updating", "binding", "started"), ("binding", "following", "bound"),
            ("following", "paused", "hook_paused"), ("paused", "following", "hook_acted"),
            ("following", "paused", "hook_paused"), ("paused", "following", "hook_acted"),
            ("following", "stopping", "timed_out"), ("stopping", "rolled_back", "rollback_done")]
    root = parse(machine_svg(DEPLOY, taken=path, current="rolled_back"))
    drawn = edges(root)
    assert drawn[("following", "paused")].get("data-taken") == "2"
    assert drawn[("paused", "following")].get("data-taken") == "2"
    assert drawn[("queued", "planned")].get("data-taken") == "1"
    assert "hook_paused \u00d72" in "".join(root.itertext())
    boxes = {state: box(node) for state, node in nodes(root).items()}
    assert boxes["planned"][1] < boxes["queued"][1]  # turn_came did not pull queued above planned
    assert boxes["following"][1] < boxes["paused"][1]
    assert len({(x, y) for x, y, _, _ in boxes.values()}) == len(boxes)


def test_triggers_of_one_pair_share_an_edge_and_a_many_source_transition_is_one_edge_per_source() -> None:
    root = parse(machine_svg(DEPLOY))
    drawn = edges(root)
    assert drawn[("waiting", "rolling_back")].get("data-trigger") == "deploy_failed timed_out"
    assert "deploy_failed, timed_out" in "".join(root.itertext())
    fail_sources = {source for (source, dest), path in drawn.items()
                    if dest == "failed" and "fail" in path.get("data-trigger", "").split()}
    assert fail_sources == {"planned", "queued", "snapshotted", "registering", "updating"}
    assert DEPLOY.descriptions["paused"] in (nodes(root)["paused"].findtext(f"{SVG}title") or "")


def test_a_machine_picture_is_the_same_for_the_same_input() -> None:
    first = machine_svg(DEPLOY, taken=GOOD_PATH, current="succeeded")
    assert machine_svg(DEPLOY, taken=GOOD_PATH, current="succeeded") == first
    other = machine_svg(DEPLOY)
    ids = {marker.get("id") for marker in parse(first).iter(f"{SVG}marker")}
    assert ids.isdisjoint(marker.get("id") for marker in parse(other).iter(f"{SVG}marker"))


def test_names_in_a_machine_are_escaped() -> None:
    definition = MachineDefinition(
        name=HOSTILE, states=("start", HOSTILE, "done"), initial="start",
        transitions=(Transition.of(HOSTILE, "start", HOSTILE), Transition.of("finish", HOSTILE, "done")),
        final_statuses={"done": "succeeded"}, descriptions={"start": HOSTILE},
    )
    svg = machine_svg(definition, taken=[("start", HOSTILE, HOSTILE)], current=HOSTILE)
    root = parse(svg)
    assert not [element for element in root.iter() if element.tag.endswith("script")]
    assert "<script" not in svg
    assert edges(root)[("start", HOSTILE)].get("data-trigger") == HOSTILE
    assert "current" in nodes(root)[HOSTILE].get("class", "").split()


def test_transitions_a_machine_does_not_declare_are_not_drawn_as_taken() -> None:
    root = parse(machine_svg(DEPLOY, taken=[("planned", "succeeded", "magic"), ("nowhere", "planned", "x")]))
    assert not [path for path in edges(root).values() if path.get("class") == "edge taken"]
    assert {state for state, node in nodes(root).items() if "visited" in node.get("class", "")} == {
        "planned", "succeeded"}
