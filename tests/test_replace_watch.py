"""Pure decisions of replace-instances: replacement assignment, drain completion, throttling retries."""

from __future__ import annotations

from ecsops.replace.verdict import (
    ContainerInstanceView,
    ServiceView,
    Snapshot,
    WaitingInstance,
    assign_replacements,
    drain_progress,
)


def view(instance_id: str, status: str = "ACTIVE", running: int = 0, connected: bool = True) -> ContainerInstanceView:
    return ContainerInstanceView(f"arn:{instance_id}", instance_id, status, running, 0, connected)


def test_each_waiting_instance_gets_its_own_new_active_instance() -> None:
    snapshot = Snapshot(
        group_instances={"i-keep": "InService", "i-new1": "InService", "i-new2": "InService", "i-boot": "Pending"},
        container_instances={"i-keep": view("i-keep"), "i-new1": view("i-new1"), "i-new2": view("i-new2")},
    )
    known = frozenset({"i-keep", "i-old1", "i-old2"})
    waiting = [WaitingInstance("i-old1", known), WaitingInstance("i-old2", known), WaitingInstance("i-old3", known)]

    assert assign_replacements(snapshot, waiting, claimed=[]) == {"i-old1": "i-new1", "i-old2": "i-new2"}
    assert assign_replacements(snapshot, waiting, claimed=["i-new1"]) == {"i-old1": "i-new2"}


def test_an_instance_not_yet_active_or_disconnected_is_no_replacement() -> None:
    snapshot = Snapshot(
        group_instances={"i-a": "InService", "i-b": "InService"},
        container_instances={"i-a": view("i-a", status="REGISTERING"), "i-b": view("i-b", connected=False)},
    )
    assert assign_replacements(snapshot, [WaitingInstance("i-old", frozenset())], claimed=[]) == {}


def test_drain_is_done_only_without_tasks_and_with_services_at_desired() -> None:
    services = [ServiceView("api", desired=2, running=2)]
    busy = Snapshot({}, {"i-old": view("i-old", status="DRAINING", running=1)}, services)
    lagging = Snapshot({}, {"i-old": view("i-old", status="DRAINING")}, [ServiceView("api", 2, 1)])
    unchecked = Snapshot({}, {"i-old": view("i-old", status="DRAINING")}, None)
    done = Snapshot({}, {"i-old": view("i-old", status="DRAINING")}, services)

    assert not drain_progress(busy, "i-old").done
    assert drain_progress(lagging, "i-old").lagging_services == ("api",)
    assert not drain_progress(unchecked, "i-old").done
    assert drain_progress(done, "i-old").done

