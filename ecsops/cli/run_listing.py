"""Which runs a listing shows: the filters of `ecsops runs` and of the ui's runs page, checked, then applied to a
store reader newest first."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from store.models import RunFilter, RunHistory, RunRecord
    from store.reader import RunReader

LIMIT_MAX = 10000


class QueryError(ValueError):
    """A filter that cannot be applied; the message names the option and what it expects."""


@dataclass(frozen=True)
class RunQuery:
    """A listing's filters, each optional, by the names of `ecsops runs`'s options (and the ui's query parameters).

    `since` and `until` are normalised ISO times (UTC, microseconds): runs started at or after `since`, and strictly
    before `until`, so a page of runs ends where the next one starts.
    """

    operation: str | None = None
    target: str | None = None
    status: str | None = None
    who: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int = 50


def parse_query(
    *,
    operation: str | None = None,
    target: str | None = None,
    status: str | None = None,
    who: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: str | int = 50,
) -> RunQuery:
    """The query for filters as a person typed them (an empty text is no filter); QueryError names the first bad one."""
    operation, target, status, who, since, until = (
        None if value is None or not value.strip() else value.strip()
        for value in (operation, target, status, who, since, until)
    )
    if status is not None:
        _check_status(status)
    if operation is not None:
        _check_operation(operation)
    return RunQuery(
        operation=operation,
        target=target,
        status=status,
        who=who,
        since=None if since is None else normalise_time("--since", since),
        until=None if until is None else normalise_time("--until", until),
        limit=check_limit(limit),
    )


def check_limit(limit: str | int) -> int:
    text = str(limit).strip()
    if not text.isdigit() or not 1 <= int(text) <= LIMIT_MAX:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise QueryError(f"--limit {shown!r}: expected a whole number from 1 to {LIMIT_MAX}")
    return int(text)


def _check_status(status: str) -> None:
    from ecsops.cli.operations import run_statuses

    known = run_statuses()
    if status not in known:
        raise QueryError(f"--status {_shown(status)}: expected one of {', '.join(known)}")


def _check_operation(operation: str) -> None:
    from ecsops.cli.operations import BUILTIN, all_operations

    if operation in BUILTIN:
        return
    known = sorted(all_operations())
    if operation not in known:
        raise QueryError(f"--operation {_shown(operation)}: expected one of {', '.join(known)}")


def _shown(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:60] + "...")


def normalise_time(option: str, text: str) -> str:
    """An ISO date or date-time as the store compares it: UTC, microseconds; a time without a zone is UTC."""
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(
            f"{option} {_shown(text)}: expected an ISO date or date-time, e.g. 2026-11-26 or 2026-11-26T09:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def started_by_matches(who: str, started_by: str, ci: dict[str, str]) -> bool:
    """`who` is the user@host that started the run, the user alone on any host, or the CI job's actor."""
    return who in (started_by, ci.get("actor")) or started_by.startswith(who + "@")


def list_histories(store: RunReader, query: RunQuery) -> Sequence[RunHistory]:
    """Newest first, at most query.limit. A full target key and the operation, status and time bounds are matched by
    the store; what people type as a target (CLUSTER/SERVICE, GROUP, ecs:CLUSTER/SERVICE) matches any account and
    region, and `who` is matched here, reading further back until `limit` runs match or the store has no more. A run
    matches a target by its own or by one it acts on besides (a fleet's services): the operations that have such
    targets are read and filtered here too.

    Conditions are tested on run records; only the runs chosen are read whole, by id, in a fixed number of queries.
    A typed target is first resolved to the full keys the store's runs have (store.targets()), each then matched by
    the store; a store that cannot list its targets cheaply (DynamoDB) has its runs' records read and matched here.
    """
    from ecsops.aws.arns import is_full_key, target_matches
    from ecsops.cli.operations import BUILTIN_TOUCHED, touched_targets
    from store.models import RunFilter

    target, who, limit = query.target, query.who, query.limit
    matched: dict[str, bool] = {}  # by key: thousands of fleets touch the same few hundred services

    def touches(run: RunRecord) -> bool:
        if target is None:
            return False
        for key in touched_targets(run):
            found = matched.get(key)
            if found is None:
                found = matched[key] = target_matches(key, target)
            if found:
                return True
        return False

    def by_who(run: RunRecord) -> bool:
        return who is None or started_by_matches(who, run.started_by, run.ci)

    def store_filter(operation: str | None, exact: str | None = None, since: str | None = query.since) -> RunFilter:
        return RunFilter(operation=operation, target=exact, status=query.status, since=since, until=query.until,
                         limit=limit)

    def histories_of(runs: Iterable[RunRecord]) -> list[RunHistory]:
        # The store orders and cuts them as it does any listing: newest first, ties as it always breaks them.
        run_ids = tuple(dict.fromkeys(run.run_id for run in runs))
        return list(store.histories(RunFilter(run_ids=run_ids, limit=limit))) if run_ids else []

    def touching(own: Sequence[RunRecord]) -> list[RunRecord]:
        """The runs of the operations that act on more targets than their own that touch `target`, newest first:
        only those started no earlier than the limit-th newest of `own`, as no older one can make the listing."""
        since = query.since
        if len(own) >= limit:
            oldest_shown = sorted((run.started_at for run in own), reverse=True)[limit - 1]
            since = oldest_shown if since is None else max(since, oldest_shown)
        found: list[RunRecord] = []
        for name in sorted(BUILTIN_TOUCHED):
            if query.operation is None or query.operation == name:
                found += _matching(store, store_filter(name, since=since), lambda r: touches(r) and by_who(r), limit)
        return found

    if target is None:
        if who is None:
            return store.histories(store_filter(query.operation))
        return histories_of(_matching(store, store_filter(query.operation), by_who, limit))
    if is_full_key(target):
        own = _matching(store, store_filter(query.operation, target), by_who, limit)
        chosen = histories_of(_newest([*own, *touching(own)], limit))
        return sorted(chosen, key=lambda h: (h.run.started_at, h.run.run_id), reverse=True)
    keys = store.targets()
    if keys is None:
        return histories_of(_matching(store, store_filter(query.operation), lambda r: touches(r) and by_who(r), limit))
    own = [run for key in keys if target_matches(key, target)
           for run in _matching(store, store_filter(query.operation, key), by_who, limit)]
    return histories_of([*own, *touching(own)])


def _newest(runs: Sequence[RunRecord], limit: int) -> list[RunRecord]:
    """The `limit` newest of runs by start then id (as a full key's listing orders them), each once."""
    unique = {run.run_id: run for run in runs}.values()
    return sorted(unique, key=lambda run: (run.started_at, run.run_id), reverse=True)[:limit]


def _matching(store: RunReader, run_filter: RunFilter, matches: Callable[[RunRecord], bool], limit: int
              ) -> list[RunRecord]:
    """Up to `limit` of the run records `run_filter` selects that `matches` accepts, newest first, reading further
    back until enough match or the store has no more: each read asks for as many as the share matched so far says
    are needed, with a margin (at least twice, at most eight times the previous read)."""
    fetch = limit
    while True:
        records = store.list_runs(replace(run_filter, limit=fetch))
        matched = [run for run in records if matches(run)]
        if len(matched) >= limit or len(records) < fetch:
            return matched[:limit]
        wanted = fetch * 8 if not matched else math.ceil(fetch * limit / len(matched) * 1.25)
        fetch = min(max(wanted, fetch * 2), fetch * 8)
