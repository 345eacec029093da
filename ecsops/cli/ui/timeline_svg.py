"""A run's timeline as server-side SVG: each state a bar against time, one lane for the run and one per item."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ecsops.cli.ui.svg_common import (
    CATEGORY_FILL,
    FINAL_STATES,
    FONT,
    category,
    clock_time,
    css_name,
    epoch,
    esc,
    human_duration,
    num,
    shorten,
    text_width,
)

WIDTH = 1100
LABEL_WIDTH = 170
CHART_LEFT = 180
CHART_RIGHT = WIDTH - 24
TOP = 26
LANE_HEIGHT = 30
BAR_TOP, BAR_HEIGHT = 4, 15
STAGE_TOP, STAGE_HEIGHT = 21, 7
MIN_BAR_WIDTH = 2.0
# One lane is the run's own; beyond this many the page would be a wall of bars: the rest are counted, not drawn.
MAX_LANES = 60
# Categories light enough that a bar's label is written in dark ink.
_LIGHT = frozenset({"wait", "pause"})
STAGE_FILLS = ("#cbd5e1", "#a5b4c8")
BAKE_FILL = "#0d9488"
_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
          21600, 43200, 86400, 172800, 604800)


Placing = Callable[[float], float]  # a moment (epoch seconds) to its x on the chart


@dataclass
class _Lane:
    """One lane's record: the states it entered, in order, and the stage marks of its deployment."""

    item: str | None
    # (state, when it was entered or None if that cannot be read, the trigger that entered it)
    entries: list[tuple[str, float | None, str | None]] = field(default_factory=list)
    stages: list[tuple[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class _Bar:
    state: str
    start: float
    end: float
    ended_by: str | None
    final: bool


def timeline_svg(document: Mapping[str, Any], *, now: str | None = None) -> str:
    """The run document's states against time (ecsops/cli/documents.py shapes it); `now` ends a running run's bars."""
    lanes = _lanes(document)
    start, end = _span(document, lanes, now)
    running = document.get("finished_at") is None
    drawn = list(lanes.values())[:MAX_LANES]
    hidden = len(lanes) - len(drawn)
    chart_bottom = TOP + LANE_HEIGHT * len(drawn)
    height = chart_bottom + (20 if hidden else 0) + 34
    scale = (CHART_RIGHT - CHART_LEFT) / (end - start) if end > start else 0.0

    def x_of(moment: float) -> float:
        return CHART_LEFT + (moment - start) * scale

    label = (f"Timeline of run {document.get('run_id', '')}: {len(lanes)} lane(s) over "
             f"{human_duration(end - start)}, status {document.get('status', 'unknown')}")
    parts = [
        f'<svg class="timeline" role="img" aria-label="{esc(label)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" font-family="{esc(FONT)}" font-size="11">',
        f"<title>{esc(label)}</title>",
    ]
    parts.extend(_axis(start, end, chart_bottom, x_of))
    for index, lane in enumerate(drawn):
        top = TOP + index * LANE_HEIGHT
        if index % 2:
            parts.append(f'<rect class="lane-stripe" x="0" y="{top}" width="{WIDTH}" height="{LANE_HEIGHT}" '
                         f'fill="#f8fafc"/>')
        parts.extend(_lane_label(lane, top))
        bars = _bars(lane, start, end, document)
        parts.extend(_bar_markup(bar, lane, top, start, x_of, running) for bar in bars)
        parts.extend(_stage_markup(lane, bars, top, start, end, x_of))
    if running and now is not None:
        parts.append(f'<line class="now" x1="{CHART_RIGHT}" y1="{TOP - 6}" x2="{CHART_RIGHT}" y2="{chart_bottom}" '
                     f'stroke="#0f172a" stroke-dasharray="3 3"/>')
    if hidden:
        parts.append(f'<text class="more" x="8" y="{chart_bottom + 14}" fill="#475569" font-style="italic">'
                     f"+{hidden} more (not drawn)</text>")
    parts.extend(_legend(height - 12))
    parts.append("</svg>")
    return "".join(parts)


def _lanes(document: Mapping[str, Any]) -> dict[str | None, _Lane]:
    """The run's lane, then one per item in order of first appearance (transitions first, then stage marks)."""
    lanes: dict[str | None, _Lane] = {None: _Lane(None)}
    transitions = [t for t in _records(document.get("transitions")) if isinstance(t.get("dest"), str)]
    ordered = sorted(enumerate(transitions), key=lambda pair: (_seq(pair[1]), pair[0]))
    for _, transition in ordered:
        item = _item(transition.get("item"))
        lane = lanes.get(item)
        if lane is None:
            lane = lanes[item] = _Lane(item)
        if not lane.entries:
            lane.entries.append((str(transition.get("source", "?")), epoch(document.get("started_at")), None))
        lane.entries.append((transition["dest"], epoch(transition.get("at")), str(transition.get("trigger", ""))))
    if not lanes[None].entries:
        lanes[None].entries.append((str(document.get("state") or "?"), epoch(document.get("started_at")), None))
    for message in _records(document.get("messages")):
        at = epoch(message.get("at"))
        if message.get("kind") != "stage" or at is None:
            continue
        item = _item(message.get("item"))
        lane = lanes.get(item)
        if lane is None:
            lane = lanes[item] = _Lane(item)
        lane.stages.append((str(message.get("text", "")), at))
    for lane in lanes.values():
        lane.stages.sort(key=lambda stage: stage[1])
    return lanes


def _records(value: object) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, list):
        yield from (record for record in value if isinstance(record, Mapping))


def _seq(transition: Mapping[str, Any]) -> float:
    seq = transition.get("seq")
    return float(seq) if isinstance(seq, int | float) else float("inf")


def _item(value: object) -> str | None:
    return None if value is None else str(value)


def _span(document: Mapping[str, Any], lanes: Mapping[str | None, _Lane], now: str | None) -> tuple[float, float]:
    """From started_at to the end: finished_at; for a run still going, now (else updated_at) stretched to cover
    every placed time, as a clock a little behind the store's must not cut the last bar off. A finished run's times
    beyond its end are drawn at its end."""
    seen = [at for lane in lanes.values() for _, at, _ in lane.entries if at is not None]
    seen += [at for lane in lanes.values() for _, at in lane.stages]
    start = epoch(document.get("started_at"))
    if start is None:
        start = min(seen, default=0.0)
    end = epoch(document.get("finished_at"))
    if end is None:
        end = epoch(now) if now is not None else None
        end = epoch(document.get("updated_at")) if end is None else end
        end = max([end if end is not None else start, *seen])
    return start, max(start, end)


def _bars(lane: _Lane, start: float, end: float, document: Mapping[str, Any]) -> list[_Bar]:
    """Each state from the time it was entered to the next placed entry, or the end; entries without a time are
    skipped (their neighbour's bar covers them), and a time earlier than the one before it is read as that one, so
    bars never overlap."""
    placed: list[tuple[int, float]] = []
    for index, (_, at, _) in enumerate(lane.entries):
        if at is not None:
            placed.append((index, min(max(at, placed[-1][1] if placed else start), end)))
    finished = document.get("finished_at") is not None
    bars = []
    for position, (index, at) in enumerate(placed):
        state = lane.entries[index][0]
        last = index == len(lane.entries) - 1
        stop = placed[position + 1][1] if position + 1 < len(placed) else end
        ended_by = None if last else lane.entries[index + 1][2]
        final = last and (state in FINAL_STATES or (lane.item is None and finished))
        bars.append(_Bar(state, at, stop, ended_by, final))
    return bars


def _bar_markup(bar: _Bar, lane: _Lane, top: float, start: float, x_of: Placing, running: bool) -> str:
    kind = category(bar.state)
    x = x_of(bar.start)
    width = max(MIN_BAR_WIDTH, x_of(bar.end) - x)
    if bar.ended_by:
        ending = f"ended by {bar.ended_by}"
    elif bar.final:
        ending = "final state"
    else:
        ending = "still in it" if running else "when the run stopped"
    where = f" ({lane.item})" if lane.item is not None else ""
    tip = (f"{bar.state}{where}\nfrom +{human_duration(bar.start - start)} ({clock_time(bar.start)})\n"
           f"for {human_duration(bar.end - bar.start)}\n{ending}")
    fill = CATEGORY_FILL[kind]
    # A final state's bar only says where the lane ended up, so it is faint; its marker is the moment it got there.
    faint = ' fill-opacity="0.45"' if bar.final and lane.item is not None else ""
    markup = (f'<rect class="bar state-{css_name(bar.state)} {kind}" data-state="{esc(bar.state)}" '
              f'x="{num(x)}" y="{top + BAR_TOP}" width="{num(width)}" height="{BAR_HEIGHT}" rx="2" '
              f'fill="{fill}"{faint} stroke="#ffffff" stroke-width="0.75"><title>{esc(tip)}</title></rect>')
    if text_width(bar.state, 9.5) + 8 <= width:
        ink = "#0f172a" if kind in _LIGHT or faint else "#ffffff"
        markup += (f'<text class="bar-label" x="{num(x + 4)}" y="{top + BAR_TOP + 11}" font-size="9.5" '
                   f'fill="{ink}" pointer-events="none">{esc(bar.state)}</text>')
    if bar.final:
        markup += (f'<rect class="end-marker" x="{num(x - 1.5)}" y="{top + 1}" width="4" height="{BAR_HEIGHT + 6}" '
                   f'fill="{fill}" stroke="#0f172a" stroke-width="0.8"><title>{esc(bar.state)}: final</title></rect>')
    return markup


def _stage_markup(lane: _Lane, bars: list[_Bar], top: float, start: float, end: float, x_of: Placing) -> list[str]:
    """The deployment's lifecycle stages as a thin band under the lane: each lasts until the next stage, or until the
    lane reached its final state."""
    finish = next((bar.start for bar in bars if bar.final), end)
    parts = []
    for index, (text, at) in enumerate(lane.stages):
        since = min(max(at, start), end)
        until = lane.stages[index + 1][1] if index + 1 < len(lane.stages) else finish
        until = min(max(until, since), end)
        x = x_of(since)
        width = max(MIN_BAR_WIDTH, x_of(until) - x)
        bake = text == "BAKE_TIME"
        shown = "bake" if bake else text.lower().replace("_", " ")
        tip = f"stage {text}\nfrom +{human_duration(since - start)}\nfor {human_duration(until - since)}"
        fill = BAKE_FILL if bake else STAGE_FILLS[index % 2]
        parts.append(f'<g class="stage{" bake" if bake else ""}" data-stage="{esc(text)}">'
                     f'<rect x="{num(x)}" y="{top + STAGE_TOP}" width="{num(width)}" height="{STAGE_HEIGHT}" '
                     f'fill="{fill}"/><title>{esc(tip)}</title>')
        if text_width(shown, 7) + 4 <= width or bake:
            inside = text_width(shown, 7) + 4 <= width
            parts.append(f'<text x="{num(x + 2 if inside else x + width + 2)}" y="{top + STAGE_TOP + 6}" '
                         f'font-size="7" fill="{"#ffffff" if inside and bake else "#1e293b"}">{esc(shown)}</text>')
        parts.append("</g>")
    return parts


def _lane_label(lane: _Lane, top: float) -> list[str]:
    if lane.item is None:
        return [f'<text class="lane-label run" x="8" y="{top + 16}" font-weight="600">run'
                "<title>the run's own states</title></text>"]
    shown = shorten(lane.item, 11, LABEL_WIDTH - 14)
    return [f'<text class="lane-label" x="8" y="{top + 16}">{esc(shown)}<title>{esc(lane.item)}</title></text>']


def _axis(start: float, end: float, bottom: float, x_of: Placing) -> list[str]:
    span = end - start
    # A span beyond the table (a timestamp years off) still gets at most eight ticks, in whole weeks.
    step = next((s for s in _STEPS if span / s <= 8), None) or math.ceil(span / 8 / _STEPS[-1]) * _STEPS[-1]
    parts = ['<g class="axis" fill="#475569" font-size="10">']
    for index in range(int(span / step + 1e-9) + 1):
        offset = round(index * step, 6)
        x = num(x_of(start + offset))
        parts.append(f'<line x1="{x}" y1="{TOP - 6}" x2="{x}" y2="{bottom}" stroke="#e2e8f0"/>'
                     f'<text x="{x}" y="{TOP - 10}" text-anchor="middle">{_offset(offset)}</text>')
    parts.append("</g>")
    return parts


def _offset(seconds: float) -> str:
    """A tick's label, relative to the start: +0s, +0.5s, +30s, +2m, +2m 30s, +1h, +1h 30m."""
    if seconds < 60:
        return "+" + (f"{seconds:.2f}".rstrip("0").rstrip(".") or "0") + "s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"+{minutes}m" + (f" {rest:02d}s" if rest else "")
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"+{hours}h" + (f" {minutes:02d}m" if minutes else "")


def _legend(y: float) -> list[str]:
    swatches = [(name, CATEGORY_FILL[name], 10) for name in ("state", "wait", "pause", "success", "failure",
                                                              "rollback")]
    swatches += [("stage", STAGE_FILLS[1], 5), ("bake", BAKE_FILL, 5)]
    parts = ['<g class="legend" font-size="10" fill="#334155">']
    x = float(CHART_LEFT)
    for name, fill, size in swatches:
        parts.append(f'<rect class="legend-{name}" x="{num(x)}" y="{num(y - 4 - size / 2)}" width="12" '
                     f'height="{size}" fill="{fill}"/><text x="{num(x + 16)}" y="{y}">{name}</text>')
        x += 16 + text_width(name, 10) + 14
    parts.append(f'<rect x="{num(x)}" y="{y - 10}" width="4" height="12" fill="#ffffff" stroke="#0f172a"/>'
                 f'<text x="{num(x + 7)}" y="{y}">final state</text></g>')
    return parts
