"""The store `make bench` times the ui on: many runs made quickly (created by the store's own code, so its schema and
indexes are the real ones, then filled with one executemany per table in one transaction), shaped like real runs:
deploys of a thousand services with their steps and transitions, some replacements and fleets; and one replacement
of 166 instances whose run has 1 000 transitions and a full journal."""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ACCOUNT, REGION = "123456789012", "us-east-1"
CLUSTERS, SERVICES = 40, 25
BIG_RUN = "bench-1000-transitions"
JOURNAL_LINES = 2000  # what the engine keeps of a run's journal at most
_START = datetime(2025, 1, 1, tzinfo=UTC)
_DEPLOY_PATH = (("planned", "snapshotted", "snapshot"), ("snapshotted", "registering", "register"),
                ("registering", "updating", "registered"), ("updating", "waiting", "updated"))
# status -> (share of deploys, the transitions after waiting, the reason)
_DEPLOY_ENDINGS: dict[str, tuple[float, tuple[tuple[str, str, str], ...], str]] = {
    "succeeded": (0.86, (("waiting", "succeeded", "stable"),), "deployment {d} completed: running 3/3"),
    "rolled_back": (0.06, (("waiting", "ecs_rolling_back", "ecs_rolled_back"),
                           ("ecs_rolling_back", "rolled_back", "rollback_done")),
                    "deployment {d} failed (ECS deployment circuit breaker: tasks failed to start.); 3 tasks failed "
                    "to start: CannotPullContainerError: pull image manifest has been retried 1 time(s)"),
    "failed": (0.03, (("waiting", "failed", "timed_out"),), "deployment {d} did not finish within 15m00s"),
    "superseded": (0.02, (("waiting", "superseded", "superseded"),), "another deployment became PRIMARY: {d}"),
    "rollback_failed": (0.005, (("waiting", "rolling_back", "deploy_failed"),
                                ("rolling_back", "rollback_failed", "rollback_failed")),
                        "deployment {d} failed and its rollback did not finish: needs a person"),
    "abandoned": (0.025, (), "abandoned by a person"),
}
_INSTANCE_PATH = (("pending", "detaching", "start"), ("detaching", "waiting_replacement", "detached"),
                  ("waiting_replacement", "draining", "replacement_active"), ("draining", "drained", "drained"),
                  ("drained", "terminating", "terminate"), ("terminating", "terminated", "terminated"))


@dataclass(frozen=True)
class BenchStore:
    path: Path
    runs: int
    big_run: str
    transitions_of_big_run: int
    some_service: str  # CLUSTER/SERVICE of a deployed service, for a target filter
    some_target: str  # its full key


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _target(cluster: int, service: int) -> tuple[str, str, str]:
    name = f"cluster{cluster:02d}/svc{service:02d}"
    return name, f"ecs:{ACCOUNT}:{REGION}:{name}", f"svc{service:02d}"


class _Rows:
    """The rows of each table, appended run by run."""

    def __init__(self) -> None:
        self.runs: list[tuple[Any, ...]] = []
        self.transitions: list[tuple[Any, ...]] = []
        self.steps: list[tuple[Any, ...]] = []
        self.items: list[tuple[Any, ...]] = []
        self.messages: list[tuple[Any, ...]] = []

    def run(self, run_id: str, operation: str, target: str, status: str, state: str, started: datetime,
            ended: datetime | None, params: dict[str, Any], facts: dict[str, Any], reason: str, who: str,
            ci: dict[str, str]) -> None:
        finished = None if ended is None else _iso(ended)
        self.runs.append((run_id, operation, target, status, state, 3, "73324420860fe9f7", "0.1.0",
                          json.dumps(params), json.dumps(facts), who, json.dumps(ci), _iso(started),
                          finished or _iso(started + timedelta(seconds=5)), finished, "{}", reason))

    def path(self, run_id: str, started: datetime, path: tuple[tuple[str, str, str], ...], item: str | None = None,
             first_seq: int = 1, step_seconds: float = 20.0) -> datetime:
        at = started
        for offset, (source, dest, trigger) in enumerate(path):
            at = at + timedelta(seconds=step_seconds)
            self.transitions.append((run_id, first_seq + offset, item, source, dest, trigger, _iso(at)))
        return at


def _register_request(family: str, image: str) -> dict[str, Any]:
    return {"family": family, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256",
            "memory": "512", "containerDefinitions": [{
                "name": "app", "image": image, "essential": True, "portMappings": [{"containerPort": 80}],
                "environment": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "REGION", "value": REGION}],
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": f"/ecs/{family}"}}}],
            "tags": [{"key": "team", "value": "shop"}]}


def _deploy(rows: _Rows, number: int, started: datetime, pick: random.Random) -> None:
    cluster, service = pick.randrange(CLUSTERS), pick.randrange(SERVICES)
    name, target, family = _target(cluster, service)
    status = pick.choices(list(_DEPLOY_ENDINGS), weights=[share for share, _, _ in _DEPLOY_ENDINGS.values()])[0]
    _, ending, reason = _DEPLOY_ENDINGS[status]
    run_id = f"deploy-{number:07d}"
    deployment = f"ecs-svc/{pick.randrange(10**18, 10**19)}"
    revision = 1 + number % 400
    image = f"registry.example.com/shop/{family}:{number}"
    at = rows.path(run_id, started, _DEPLOY_PATH)
    at = rows.path(run_id, at, ending, first_seq=len(_DEPLOY_PATH) + 1, step_seconds=60.0)
    ci = ({"system": "github-actions", "actor": pick.choice(("alice", "bob", "carol")),
           "url": f"https://github.com/acme/shop/actions/runs/{number}", "GITHUB_RUN_ID": str(number)}
          if number % 5 else {})
    who = "runner@ci-7" if ci else pick.choice(("dave@laptop", "erin@desk"))
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}"
    params = {"cluster": name.split("/")[0], "service": family, "account": ACCOUNT, "region": REGION,
              "desired_count": None, "timeout_seconds": 900.0, "poll_interval": None, "wait_until": "primary-rolled",
              "edits": {"containers": {"app": {"image": image, "environment": {}, "secrets": {}}}}}
    facts = {"previous_task_definition": f"{arn}:{revision}", "new_task_definition": f"{arn}:{revision + 1}",
             "previous_desired_count": 3, "deployment_id": deployment, "registered_revision": True,
             "strategy": "ROLLING", "rollback_target": {"task_definition": f"{arn}:{revision}", "desired_count": 3}}
    rows.run(run_id, "deploy", target, status, "waiting" if status == "abandoned" else ending[-1][1] if ending
             else "waiting", started, at, params, facts, reason.format(d=deployment), who, ci)
    request = _register_request(family, image)
    rows.steps.append((run_id, "register_task_definition", "succeeded", json.dumps(request),
                       json.dumps({"taskDefinitionArn": f"{arn}:{revision + 1}", "revision": revision + 1}), None,
                       _iso(started + timedelta(seconds=30)), _iso(started + timedelta(seconds=31))))
    rows.steps.append((run_id, "update_service", "succeeded",
                       json.dumps({"cluster": params["cluster"], "service": family,
                                   "taskDefinition": f"{arn}:{revision + 1}", "forceNewDeployment": True}),
                       json.dumps({"deployment_id": deployment}), None, _iso(started + timedelta(seconds=50)),
                       _iso(started + timedelta(seconds=51))))


def _replacement(rows: _Rows, run_id: str, started: datetime, instances: int, skipped: int = 0,
                 journal: int = 0) -> int:
    """A replace-instances run of `instances` replaced instances and `skipped` skipped ones; how many transitions
    it has."""
    group = f"asg-{run_id[-2:]}"
    at = rows.path(run_id, started, (("planned", "replacing", "plan"),))
    seq = 2
    for index in range(instances + skipped):
        instance = f"i-{index:017x}"
        path = _INSTANCE_PATH if index < instances else (("pending", "skipped", "skip"),)
        rows.path(run_id, at + timedelta(seconds=index), path, item=instance, first_seq=seq, step_seconds=30.0)
        seq += len(path)
        state = path[-1][1]
        rows.items.append((run_id, instance, state, json.dumps({
            "container_instance_arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/prod/{index:032x}",
            "reason": "launch template lt-0a1b2c version 4, group wants 5",
            "replacement": f"i-{index + 10**6:017x}" if state == "terminated" else None}),
            _iso(at + timedelta(seconds=index + 200))))
        if state == "terminated":
            for step in ("detach", "drain", "terminate"):
                rows.steps.append((run_id, f"{step}:{instance}", "succeeded", json.dumps({"instance": instance}),
                                   json.dumps({"ok": True}), None, _iso(at), _iso(at)))
    ended = rows.path(run_id, at + timedelta(seconds=instances + skipped + 240), (("replacing", "succeeded",
                                                                                  "all_replaced"),), first_seq=seq)
    for line in range(1, journal + 1):
        instance = f"i-{line % instances:017x}"
        text = f"{instance}: draining: {line % 90}s elapsed, 14m{line % 60:02d}s left | 2 tasks running"
        rows.messages.append((run_id, line, "progress", text, _iso(at + timedelta(seconds=line)), instance))
    rows.run(run_id, "replace-instances", f"asg:{ACCOUNT}:{REGION}:{group}", "succeeded", "succeeded", started, ended,
             {"asg": group, "cluster": "prod", "batch_size": 10}, {"not_in_cluster": [], "skipped": []},
             f"replaced {instances} instance(s) of {group}", "runner@ci-7", {})
    return seq


def _fleet(rows: _Rows, number: int, started: datetime, pick: random.Random) -> None:
    run_id = f"fleet-{number:07d}"
    cluster = pick.randrange(CLUSTERS)
    services = [{"params": {"cluster": f"cluster{cluster:02d}", "service": f"svc{s:02d}", "account": ACCOUNT,
                            "region": REGION}, "line": 3 + 4 * s} for s in range(5)]
    at = rows.path(run_id, started, (("planned", "rolling", "start"), ("rolling", "succeeded", "all_succeeded")),
                   step_seconds=120.0)
    rows.run(run_id, "deploy-fleet", f"fleet:{ACCOUNT}:{REGION}:release#{number:08x}", "succeeded", "succeeded",
             started, at, {"file": "release.toml", "services": services, "max_parallel": 5, "on_failure": "stop"},
             {"poll_rounds": 12}, "5 services: 5 succeeded", "runner@ci-7", {})


def build(path: Path, runs: int, big_transitions: int = 1000, seed: int = 20) -> BenchStore:
    """A store at `path` with `runs` runs, the newest of them BIG_RUN (a replacement with `big_transitions`)."""
    from store.sqlite_store import open_sqlite_store

    open_sqlite_store(path).close()  # the real schema, indexes and migrations
    pick = random.Random(seed)
    rows = _Rows()
    for number in range(1, runs):
        started = _START + timedelta(seconds=300 * number + pick.randrange(0, 240),
                                     microseconds=pick.randrange(0, 10**6))
        kind = pick.random()
        if kind < 0.03:
            _fleet(rows, number, started, pick)
        elif kind < 0.05:
            _replacement(rows, f"replace-{number:07d}", started, instances=pick.randrange(2, 7))
        else:
            _deploy(rows, number, started, pick)
    replaced, rest = divmod(big_transitions - 2, len(_INSTANCE_PATH))
    transitions = _replacement(rows, BIG_RUN, _START + timedelta(seconds=300 * runs), instances=replaced,
                               skipped=rest, journal=JOURNAL_LINES)
    _insert(path, rows)
    name, target, _ = _target(7, 3)
    return BenchStore(path, runs, BIG_RUN, transitions, name, target)


def _insert(path: Path, rows: _Rows) -> None:
    conn = sqlite3.connect(path)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        conn.execute("PRAGMA synchronous = OFF")
        with conn:
            conn.executemany("INSERT INTO runs (run_id, operation, target, status, state, version, machine_version, "
                             "ecsops_version, params, facts, started_by, ci, started_at, updated_at, finished_at, "
                             "timers, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows.runs)
            conn.executemany("INSERT INTO transitions (run_id, seq, item, source, dest, trigger, at) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", rows.transitions)
            conn.executemany("INSERT INTO steps (run_id, name, status, request, result, error, started_at, "
                             "finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows.steps)
            conn.executemany("INSERT INTO items (run_id, item_id, state, data, updated_at) VALUES (?, ?, ?, ?, ?)",
                             rows.items)
            if "messages" in tables:
                conn.executemany("INSERT INTO messages (run_id, seq, kind, text, at, item) VALUES (?, ?, ?, ?, ?, ?)",
                                 rows.messages)
        conn.execute("PRAGMA optimize")
    finally:
        conn.close()
