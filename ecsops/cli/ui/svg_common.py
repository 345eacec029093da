"""What the ui's SVG pictures share: escaping, timestamps, durations, and the colour of each kind of state."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from ecsops.cli.ui.display import parse_time
from machines.deploy import DEPLOY
from machines.deploy_fleet import FLEET_DEFINITION, SERVICE_DEFINITION
from machines.replace_instances import INSTANCE_DEFINITION, RUN_DEFINITION

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"

# The undo paths have their own colour: the issue wants a rollback told apart from a failure at a glance.
# An instance put back in its group (replace-instances) is that machine's rollback.
_ROLLBACK = frozenset({
    "rolling_back", "ecs_rolling_back", "stopping", "rolled_back", "rollback_failed",
    "reattaching", "reattached", "reattach_failed",
})
_PAUSE = frozenset({"paused"})
# States where the run waits on AWS, on another deployment or on its turn, rather than acting.
_WAIT = frozenset({
    "pending", "queued", "waiting", "binding", "following", "rolled_out", "waiting_replacement", "draining",
})
_SUCCESS = frozenset({"succeeded", "terminated"})
_FAILURE = frozenset({"failed", "superseded", "skipped"})

CATEGORY_FILL = {
    "state": "#64748b",
    "wait": "#7dd3fc",
    "pause": "#f59e0b",
    "success": "#16a34a",
    "failure": "#dc2626",
    "rollback": "#9333ea",
}

# The built-in machines' final states: a timeline knows a lane has ended without loading the operation.
FINAL_STATES = frozenset().union(
    *(d.final_states for d in (DEPLOY, FLEET_DEFINITION, SERVICE_DEFINITION, RUN_DEFINITION, INSTANCE_DEFINITION))
)

_UNSAFE_CLASS = re.compile(r"[^A-Za-z0-9_-]")


def esc(text: object) -> str:
    """Text or an attribute value from a run, safe inside SVG markup embedded in an HTML page."""
    return html.escape(str(text), quote=True)


def css_name(state: object) -> str:
    """A state's name as one class token: anything outside [A-Za-z0-9_-] becomes '-'."""
    return _UNSAFE_CLASS.sub("-", str(state))[:64] or "-"


def category(state: object) -> str:
    name = str(state)
    if name in _ROLLBACK:
        return "rollback"
    if name in _PAUSE:
        return "pause"
    if name in _WAIT:
        return "wait"
    if name in _SUCCESS:
        return "success"
    if name in _FAILURE:
        return "failure"
    return "state"


def epoch(value: object) -> float | None:
    """Seconds since the epoch of an ISO 8601 timestamp as the store writes it; None if it is not one."""
    moment = parse_time(value.strip()) if isinstance(value, str) else None
    return None if moment is None else moment.timestamp()


def clock_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def human_duration(seconds: float) -> str:
    """0.4s, 12s, 3m 05s, 1h 02m."""
    seconds = max(0.0, seconds)
    if seconds < 9.95:
        return f"{seconds:.1f}s"
    if seconds < 59.5:
        return f"{round(seconds)}s"
    if seconds < 3599.5:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours}h {minutes:02d}m"


def num(value: float) -> str:
    """A coordinate: at most one decimal, no trailing zeros (smaller markup, same picture)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


_NARROW = frozenset("iljtfr.,:;'|!() -")
_WIDE = frozenset("mwMW@%")


def text_width(text: str, size: float) -> float:
    """An estimate of the rendered width of text in a sans-serif font, on the wide side (DejaVu Sans, Linux's usual
    sans-serif): enough to size boxes and keep labels apart."""
    units = 0.0
    for char in text:
        if char in _NARROW:
            units += 0.34
        elif char in _WIDE:
            units += 0.86
        elif char.isupper() or char.isdigit() or char == "_":
            units += 0.68
        else:
            units += 0.61
    return units * size


def shorten(text: str, size: float, width: float) -> str:
    """text cut in its middle with an ellipsis to fit width: both an id's head and its tail tell things apart."""
    if text_width(text, size) <= width:
        return text
    # No glyph is narrower than 0.34 em: start from the most that could fit, so a huge id costs no more than a short.
    keep = min(len(text), int(width / (0.34 * size)) + 1)
    while keep > 2:
        keep -= 1
        head = (keep + 1) // 2
        candidate = text[:head] + "…" + text[len(text) - (keep - head):]
        if text_width(candidate, size) <= width:
            return candidate
    return text[:1] + "…"
