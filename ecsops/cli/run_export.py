"""`ecsops runs --output jsonl|csv`: run documents streamed for log shippers, and the runs table as CSV rows."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

# The columns of the `runs` table (ecsops.cli.render.render_runs), with started_at as recorded (ISO, UTC).
CSV_COLUMNS = ("run_id", "operation", "status", "state", "started_at", "target")


class _Line:
    """A file-like target for csv.writer that keeps the one row it was given."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)


def jsonl_lines(documents: Iterable[dict[str, Any]]) -> Iterator[str]:
    """One compact JSON document a line, each line yielded as soon as its run is read."""
    for document in documents:
        yield json.dumps(document, default=str, separators=(",", ":"))


def csv_lines(documents: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A header, then one row a run (RFC 4180 quoting: a target or status with a comma stays one field)."""
    yield _row(CSV_COLUMNS)
    for document in documents:
        yield _row(["" if document.get(column) is None else str(document[column]) for column in CSV_COLUMNS])


def _row(values: Iterable[str]) -> str:
    line = _Line()
    csv.writer(line, lineterminator="").writerow(values)
    return line.text
