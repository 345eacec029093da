"""The bench's write-unit meter (devtools/dynamodb_units.py): DynamoDB's billing rules as a table, then the
meter reading what the store's writes cost off the simulator (the store itself counts nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dynamodb_helpers import make_table, open_store_at, point_at

from devtools.dynamodb_units import WriteUnitMeter, index_units, units_of, write_units
from ecsops.sim.server import SimServer
from store import dynamodb_layout as layout
from store.dynamodb_codec import item_size
from store.models import Fence, RunRecord, RunUpdate

NOW = 1_800_000_000.0
TARGET = "ecs:123456789012:us-east-1:demo/web"


def _run_item(status: str = "running", state: str = "planned", pad: int = 0) -> dict[str, Any]:
    return {
        "pk": {"S": "RUN#r1"}, "sk": {"S": "RUN"}, "list_pk": {"S": "RUNS"}, "started_key": {"S": "t#r1"},
        "target": {"S": TARGET}, "operation": {"S": "deploy"}, "status": {"S": status}, "state": {"S": state},
        "facts": {"S": "x" * pad},
    }


SMALL = _run_item()
LOCK = {"pk": {"S": f"LOCK#{TARGET}"}, "sk": {"S": "LOCK"}, "target": {"S": TARGET}, "token": {"N": "1"}}


@pytest.mark.parametrize(
    ("touched", "transactional", "units"),
    [
        pytest.param([("Put", None, LOCK)], False, 1, id="a small item outside every index"),
        pytest.param([("Put", None, LOCK)], True, 2, id="the same in a transaction"),
        pytest.param([("ConditionCheck", LOCK, LOCK)], True, 2, id="a transaction's check"),
        pytest.param([("Put", None, SMALL)], False, 1 + 3, id="a new run enters the three indexes"),
        pytest.param([("Update", SMALL, _run_item(state="waiting"))], False, 1, id="a checkpoint writes no index"),
        pytest.param([("Update", SMALL, _run_item(status="failed"))], False, 1 + 4,
                     id="a status change: by_status re-keyed (2), its projection in the other two (1 + 1)"),
        pytest.param([("Update", SMALL, _run_item(pad=1500))], True, 2 * 2, id="the larger version bills, per KB"),
        pytest.param([("Update", _run_item(pad=1500), SMALL)], True, 2 * 2, id="shrinking bills the old size"),
        pytest.param([("Delete", SMALL, None)], False, 1 + 3, id="a run leaves the indexes"),
    ],
)
def test_write_units_follow_dynamodbs_billing(
    touched: list[tuple[str, Any, Any]], transactional: bool, units: int
) -> None:
    assert write_units(touched, transactional=transactional) == units


def test_an_index_entry_is_written_only_when_what_it_holds_changes() -> None:
    assert index_units(SMALL, SMALL) == 0
    assert index_units(None, None) == 0
    assert units_of(1024) == 1 and units_of(1025) == 2 and units_of(0) == 1


@pytest.fixture
def sim_dynamo(sim_server: SimServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    sim_server.reset(None)
    point_at(sim_server, monkeypatch)
    make_table()
    yield sim_server


def test_the_meter_reads_what_the_stores_writes_cost_off_the_simulator(sim_dynamo: SimServer) -> None:
    store = open_store_at()
    run = RunRecord(
        run_id="r1", operation="deploy", target=TARGET, status="running", state="planned", machine_version="m",
        ecsops_version="0", facts={"blob": "y" * 1500}, started_at="2026-11-26T10:00:00+00:00",
        updated_at="2026-11-26T10:00:00+00:00",
    )
    meter = WriteUnitMeter(sim_dynamo)
    with meter.active():
        lock = store.acquire_lock(TARGET, "r1", "host:1", 300, now=NOW)
        assert meter.units == 1  # one small UpdateItem, in no index
        fence = Fence(target=TARGET, run_id="r1", token=lock.token)
        store.create_run(run, fence)
        run_item = store.table.get(layout.run_key("r1"))
        assert run_item is not None
        size = units_of(item_size(run_item))
        assert size == 2
        assert meter.units == 1 + 2 * size + 2 + 3  # the run twice, the lock check, three index entries
        store.update_run("r1", 0, None, RunUpdate(status="failed", finished_at="2026-11-26T10:05:00+00:00"))
        assert meter.units == 1 + 2 * size + 2 + 3 + size + 4
    store.update_run("r1", 1, None, RunUpdate(reason="after the meter"))
    assert meter.units == 1 + 2 * size + 2 + 3 + size + 4  # counted only while active
