"""The run page's pictures: its timeline and its operation's declared machines with the path the run took, each
drawn as SVG on the server by the renderers beside this module."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

LOG = logging.getLogger("ecsops.ui")


@dataclass(frozen=True)
class Diagram:
    title: str
    svg: Markup | None  # None: nothing could be drawn; `note` says why
    note: str = ""


def _renderer(module: str, name: str) -> Any:
    """A renderer function, or None while its module is not there."""
    try:
        return getattr(importlib.import_module(f"ecsops.cli.ui.{module}"), name)
    except (ImportError, AttributeError):
        return None


def _drawn(render: Any, *args: Any, **kwargs: Any) -> Markup | None:
    # Markup: the renderers escape every value they write themselves (their contract), so their SVG is safe as is.
    try:
        return Markup(render(*args, **kwargs))
    except Exception:
        LOG.exception("could not draw %s", getattr(render, "__name__", render))
        return None


def timeline(document: dict[str, Any], *, now: str | None) -> Diagram:
    render = _renderer("timeline_svg", "timeline_svg")
    if render is None:
        return Diagram("Timeline", None, "the timeline chart is not available in this ecsops")
    svg = _drawn(render, document, now=None if document.get("finished_at") else now)
    return Diagram("Timeline", svg, "" if svg is not None else "the timeline could not be drawn")


def taken(transitions: Sequence[dict[str, Any]], item: str | None) -> list[tuple[str, str, str]]:
    """(source, dest, trigger) of the transitions of the run itself (item None) or of one item."""
    return [(str(t["source"]), str(t["dest"]), str(t["trigger"])) for t in transitions if t.get("item") == item]


def machines(document: dict[str, Any], item: str | None = None) -> list[Diagram]:
    """The operation's machine with the run's own path; with items, the item machine with the path of `item`, or on
    the run page (item None) the paths of all its items together."""
    from ecsops.cli.operations import get_operation

    render = _renderer("machine_svg", "machine_svg")
    if render is None:
        return [Diagram("Machine", None, "the machine diagram is not available in this ecsops")]
    try:
        spec = get_operation(str(document.get("operation")))
    except Exception:
        return [Diagram("Machine", None, f"operation {document.get('operation')!r} is not known to this ecsops")]
    transitions = document.get("transitions") or []
    finished = bool(document.get("finished_at"))
    diagrams = []
    if item is None:
        current = None if finished else str(document.get("state") or "") or None
        diagrams.append(Diagram(f"Machine {spec.definition.name}",
                                _drawn(render, spec.definition, taken=taken(transitions, None), current=current)))
    if spec.item_definition is not None:
        if item is None:
            item_paths = [step for t in transitions if t.get("item") is not None
                          for step in taken([t], t.get("item"))]
            title = f"Machine {spec.item_definition.name}, the paths of all its items"
            diagrams.append(Diagram(title, _drawn(render, spec.item_definition, taken=list(dict.fromkeys(item_paths)))))
        else:
            state = _item_state(transitions, item)
            diagrams.append(Diagram(f"Machine {spec.item_definition.name}",
                                    _drawn(render, spec.item_definition, taken=taken(transitions, item),
                                           current=None if finished else state)))
    return diagrams


def _item_state(transitions: Sequence[dict[str, Any]], item: str) -> str | None:
    own = [t for t in transitions if t.get("item") == item]
    return str(own[-1]["dest"]) if own else None
