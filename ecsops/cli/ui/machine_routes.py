"""Where a layered machine's ranks go down the page, and each edge's path and label (see machine_layout).

Each edge's label sits in the gap under the edge's upper end, in as many rows as keep the labels of one gap apart;
the gap grows to hold its rows. Edges are cubic curves with vertical tangents between ranks, straight through dummies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from ecsops.cli.ui.machine_layout import LayeredGraph, Pair
from ecsops.cli.ui.svg_common import num

NODE_HEIGHT = 28.0
LABEL_ROW = 13.0
LABEL_PAD = 5.0
MIN_GAP = 44.0
MARGIN = 16.0
MAX_LABEL_ROWS = 6


@dataclass(frozen=True)
class Box:
    """A node's rectangle: top-left corner and size."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Route:
    """An edge's SVG path data and its label's centre baseline."""

    path: str
    label_x: float
    label_y: float


@dataclass(frozen=True)
class Layout:
    boxes: Mapping[str, Box]
    routes: Mapping[Pair, Route]
    view: tuple[float, float, float, float]  # min-x, min-y, width, height of the viewBox


def route(graph: LayeredGraph, label_widths: Mapping[Pair, float]) -> Layout:
    """Label rows per gap, then each rank's top, then boxes, every edge's path and the viewBox around them."""
    ports = graph.ports()
    first = {}  # the stretch under each edge's upper end, where its label goes: x at its top and at its bottom
    for pair, (chain, upward) in graph.chains.items():
        link = (chain[0], chain[1], upward)
        first[pair] = (ports[(chain[0], link)], ports[(chain[1], link)])
    fractions: dict[Pair, float] = {}
    gaps = []
    for level in range(len(graph.layers) - 1):
        here = [pair for pair, (chain, _) in graph.chains.items() if graph.rank[chain[0]] == level]
        rows, count = _label_rows(here, first, label_widths)
        fractions.update(rows)
        gaps.append(max(MIN_GAP, count * LABEL_ROW + 24))
    tops = [0.0]
    for gap in gaps:
        tops.append(tops[-1] + NODE_HEIGHT + gap)
    boxes = {state: Box(graph.x[node] - graph.width[node] / 2, tops[graph.rank[node]], graph.width[node], NODE_HEIGHT)
             for node, state in enumerate(graph.states)}
    routes: dict[Pair, Route] = {}
    extent = [(box.x, box.y - 14) for box in boxes.values()]  # room above for the initial state's dot
    extent += [(box.x + box.width, box.y + box.height) for box in boxes.values()]
    for pair, (chain, upward) in graph.chains.items():
        points = []
        for upper, lower in pairwise(chain):
            link = (upper, lower, upward)
            points += [(ports[(upper, link)], tops[graph.rank[upper]] + NODE_HEIGHT),
                       (ports[(lower, link)], tops[graph.rank[lower]])]
        extent += points
        if upward:
            points.reverse()
        path = [f"M{num(points[0][0])},{num(points[0][1])}"]
        for (x0, y0), (x1, y1) in pairwise(points):
            middle = (y0 + y1) / 2
            path.append(f"L{num(x1)},{num(y1)}" if x0 == x1 else
                        f"C{num(x0)},{num(middle)} {num(x1)},{num(middle)} {num(x1)},{num(y1)}")
        level = graph.rank[chain[0]]
        label_x = _curve_x(*first[pair], fractions[pair])
        label_y = tops[level] + NODE_HEIGHT + fractions[pair] * gaps[level] + 3.5
        routes[pair] = Route("".join(path), label_x, label_y)
        half = label_widths.get(pair, 0.0) / 2 + 2
        extent += [(label_x - half, label_y), (label_x + half, label_y)]
    for state, _ in graph.loops:
        box = boxes[state]
        right, middle = box.x + box.width, box.y + NODE_HEIGHT / 2
        loop = (f"M{num(right)},{num(middle - 7)} C{num(right + 30)},{num(middle - 22)} "
                f"{num(right + 30)},{num(middle + 22)} {num(right)},{num(middle + 7)}")
        width = label_widths.get((state, state), 0.0)
        routes[(state, state)] = Route(loop, right + 30 + width / 2, middle + 3.5)
        extent.append((right + 34 + width, middle))
    left, top = min(x for x, _ in extent) - MARGIN, min(y for _, y in extent) - MARGIN
    right_edge, bottom = max(x for x, _ in extent) + MARGIN, max(y for _, y in extent) + MARGIN
    return Layout(boxes, routes, (left, top, right_edge - left, bottom - top))


def _label_rows(pairs: Sequence[Pair], first: Mapping[Pair, tuple[float, float]],
                label_widths: Mapping[Pair, float]) -> tuple[dict[Pair, float], int]:
    """Each label's height in its gap, as a fraction, and the number of rows: the fewest evenly spaced rows in which
    no two labels overlap (greedy, left to right, the upper row first); the last of MAX_LABEL_ROWS takes the rest."""
    ordered = sorted(pairs, key=lambda pair: (_curve_x(*first[pair], 0.5), pair))
    placed: dict[Pair, float] = {}
    count = 0
    while count < MAX_LABEL_ROWS and len(placed) < len(ordered):
        count += 1
        fractions = [(row + 1) / (count + 1) for row in range(count)]
        ends = [float("-inf")] * count
        placed = {}
        for pair in ordered:
            half = label_widths.get(pair, 0.0) / 2 + LABEL_PAD
            for row, fraction in enumerate(fractions):
                centre = _curve_x(*first[pair], fraction)
                if centre - half >= ends[row] or (count == MAX_LABEL_ROWS and row == count - 1):
                    ends[row] = centre + half
                    placed[pair] = fraction
                    break
            else:
                break
    return placed, count


def _curve_x(x0: float, x1: float, fraction: float) -> float:
    """x where an edge's cubic (vertical tangents at both ends, control points mid-gap) is `fraction` of the way
    down: y(t) = 1.5t(1-t) + t^3 is solved by bisection, then x(t) = 3t^2 - 2t^3 of the way from x0 to x1."""
    low, high = 0.0, 1.0
    for _ in range(24):
        t = (low + high) / 2
        if 1.5 * t * (1 - t) + t**3 < fraction:
            low = t
        else:
            high = t
    t = (low + high) / 2
    return x0 + (x1 - x0) * (3 * t * t - 2 * t**3)
