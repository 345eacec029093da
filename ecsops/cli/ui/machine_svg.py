"""An operation's declared machine as server-side SVG, with the path one run took through it highlighted."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ecsops.cli.ui.machine_layout import Pair, layered
from ecsops.cli.ui.machine_routes import NODE_HEIGHT, Layout, route
from ecsops.cli.ui.svg_common import CATEGORY_FILL, FONT, category, css_name, esc, num, text_width

if TYPE_CHECKING:
    from machines.definition import MachineDefinition

NODE_FONT = 11.0
LABEL_FONT = 9.5
MUTED = "#94a3b8"
TAKEN = "#2563eb"
TIMES = "\u00d7"  # the multiplication sign, after the count of an edge taken more than once
# Fills light enough for dark text on a current node.
_LIGHT = frozenset({"wait", "pause"})


def machine_svg(definition: MachineDefinition, *, taken: Sequence[tuple[str, str, str]] = (),
                current: str | None = None) -> str:
    """The machine's states and transitions, laid out in ranks from its initial state; `taken` is a run's
    (source, dest, trigger) transitions in order, `current` the state it is in (or ended in)."""
    triggers: dict[Pair, list[str]] = {}
    for transition in definition.transitions:
        for source in transition.sources:  # a transition from several states is one edge from each
            names = triggers.setdefault((source, transition.dest), [])
            if transition.trigger not in names:
                names.append(transition.trigger)
    times = Counter((source, dest) for source, dest, _ in taken if (source, dest) in triggers)
    declared = set(definition.states)
    visited = {state for source, dest, _ in taken for state in (source, dest)}
    if current is not None:
        visited.add(current)
    visited &= declared
    labels = {pair: ", ".join(names) + (f" {TIMES}{times[pair]}" if times[pair] > 1 else "")
              for pair, names in triggers.items()}
    graph = layered(definition.states, definition.initial, list(triggers),
                    widths={state: max(64.0, text_width(state, NODE_FONT) + 26) for state in definition.states},
                    last=definition.final_states)
    drawing = route(graph, {pair: text_width(label, LABEL_FONT) for pair, label in labels.items()})
    # Two pictures on one page must not share marker ids; the same input always gives the same ones.
    digest = hashlib.sha256(repr((definition.name, definition.version, list(taken), current)).encode()).hexdigest()
    prefix = f"m{digest[:10]}"
    summary = (f"State machine {definition.name}: {len(definition.states)} states, {len(triggers)} edges"
               + (f"; the run's path is highlighted ({len(taken)} transitions)" if taken else ""))
    x, y, width, height = drawing.view
    parts = [
        f'<svg class="machine" role="img" aria-label="{esc(summary)}" xmlns="http://www.w3.org/2000/svg" '
        # Its natural size (the page's CSS may shrink it to fit), never a style attribute: the ui's CSP forbids them.
        f'viewBox="{num(x)} {num(y)} {num(width)} {num(height)}" width="{num(width)}" height="{num(height)}" '
        f'font-family="{esc(FONT)}" font-size="{num(NODE_FONT)}">',
        f"<title>{esc(summary)}</title>",
        "<defs>",
        _marker(f"{prefix}-muted", MUTED),
        _marker(f"{prefix}-taken", TAKEN),
        "</defs>",
    ]
    ordered = sorted(triggers, key=lambda pair: times[pair] > 0)  # taken edges drawn last, over the others
    parts.extend(_edge(pair, triggers[pair], times[pair], drawing, prefix) for pair in ordered)
    parts.extend(_node(state, definition, drawing, state in visited, state == current) for state in definition.states)
    parts.extend(_label(pair, labels[pair], times[pair], drawing) for pair in ordered)
    parts.append("</svg>")
    return "".join(parts)


def _marker(marker_id: str, colour: str) -> str:
    return (f'<marker id="{marker_id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            f'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>')


def _edge(pair: Pair, names: list[str], times: int, drawing: Layout, prefix: str) -> str:
    source, dest = pair
    route = drawing.routes[pair]
    kind = "taken" if times else "muted"
    look = f'stroke="{TAKEN}" stroke-width="2.6"' if times else f'stroke="{MUTED}" stroke-width="1.2"'
    tip = f"{source} → {dest}: {', '.join(names)}" + (f" (taken {times}{TIMES})" if times else "")
    return (f'<path class="edge{" taken" if times else ""}" data-source="{esc(source)}" data-dest="{esc(dest)}" '
            f'data-trigger="{esc(" ".join(names))}" data-taken="{times}" d="{route.path}" fill="none" {look} '
            f'marker-end="url(#{prefix}-{kind})"><title>{esc(tip)}</title></path>')


def _label(pair: Pair, text: str, times: int, drawing: Layout) -> str:
    route = drawing.routes[pair]
    width = text_width(text, LABEL_FONT)
    left = route.label_x - width / 2
    ink = 'fill="#1d4ed8" font-weight="600"' if times else 'fill="#64748b"'
    return (f'<g class="edge-label{" taken" if times else ""}" data-source="{esc(pair[0])}" '
            f'data-dest="{esc(pair[1])}"><rect x="{num(left - 2)}" y="{num(route.label_y - 9)}" '
            f'width="{num(width + 4)}" height="12" rx="2" fill="#ffffff" fill-opacity="0.85"/>'
            f'<text x="{num(route.label_x)}" y="{num(route.label_y)}" text-anchor="middle" '
            f'font-size="{num(LABEL_FONT)}" {ink}>{esc(text)}</text></g>')


def _node(state: str, definition: MachineDefinition, drawing: Layout, visited: bool, current: bool) -> str:
    box = drawing.boxes[state]
    final = state in definition.final_states
    classes = "node" + (" visited" if visited else "") + (" current" if current else "") + (" final" if final else "")
    kind = category(state)
    if current:
        fill, stroke, ink, border = CATEGORY_FILL[kind], "#0f172a", "#0f172a" if kind in _LIGHT else "#ffffff", 2.4
    elif visited:
        fill, stroke, ink, border = "#dbeafe", TAKEN, "#1e3a8a", 1.8
    else:
        fill, stroke, ink, border = "#ffffff", MUTED, "#334155", 1.0
    about = definition.descriptions.get(state, "")
    notes = []
    if state == definition.initial:
        notes.append("initial state")
    if final:
        notes.append(f"final: status {definition.final_statuses[state]}")
    if current:
        notes.append("the run is here" if not final else "the run ended here")
    elif visited:
        notes.append("visited by the run")
    tip = state + (f": {about}" if about else "") + "".join(f"\n{note}" for note in notes)
    parts = [f'<g class="{classes} state-{css_name(state)}" data-state="{esc(state)}"><title>{esc(tip)}</title>',
             f'<rect x="{num(box.x)}" y="{num(box.y)}" width="{num(box.width)}" height="{num(box.height)}" rx="8" '
             f'fill="{fill}" stroke="{stroke}" stroke-width="{border}"/>']
    if final:  # a final state's double border, as in UML
        parts.append(f'<rect x="{num(box.x + 3)}" y="{num(box.y + 3)}" width="{num(box.width - 6)}" '
                     f'height="{num(box.height - 6)}" rx="6" fill="none" stroke="{stroke}" stroke-width="1"/>')
    if state == definition.initial:
        centre = box.x + box.width / 2
        parts.append(f'<circle class="start" cx="{num(centre)}" cy="{num(box.y - 9)}" r="4" fill="#0f172a"/>'
                     f'<line x1="{num(centre)}" y1="{num(box.y - 5)}" x2="{num(centre)}" y2="{num(box.y)}" '
                     f'stroke="#0f172a" stroke-width="1.5"/>')
    weight = ' font-weight="600"' if visited else ""
    parts.append(f'<text x="{num(box.x + box.width / 2)}" y="{num(box.y + NODE_HEIGHT / 2 + 4)}" '
                 f'text-anchor="middle" fill="{ink}"{weight}>{esc(state)}</text></g>')
    return "".join(parts)
