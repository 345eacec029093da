"""Runs the example operation from a subprocess: `python example_cli.py LEDGER TARGET RUN_ID [key=value]...`."""

from __future__ import annotations

import sys

from example_operation import SPEC

from ecsops.cli.runner import start_or_replay
from store.errors import StoreError
from store.open import open_store


def main() -> int:
    ledger, target, run_id, *extra = sys.argv[1:]
    params: dict[str, object] = {"ledger": ledger}
    for pair in extra:
        key, _, value = pair.partition("=")
        params[key] = value
    try:
        store = open_store(None)
    except StoreError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return start_or_replay(store, SPEC, run_id=run_id, target=target, params=params, output="json")


if __name__ == "__main__":
    sys.exit(main())
