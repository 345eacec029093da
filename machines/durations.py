"""Parse the duration flags (`--timeout 15m`) and format durations for progress output."""

from __future__ import annotations

import math
import re

ACCEPTED_FORMS = "'90s', '15m', '1h', '1h30m', '10m0s', '500ms' or plain seconds like '90' or '2.5'"

_NUMBER = r"\d+(?:\.\d+)?"
_PLAIN_SECONDS = re.compile(rf"{_NUMBER}")
# Go's time.Duration units (what go-awsecs's -timeout took: `10m0s`, `500ms`, `1h30m`), each at most once and
# largest first; `m` followed by `s` is milliseconds.
_WITH_UNITS = re.compile(
    rf"(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m(?!s))?(?:(?P<s>{_NUMBER})s)?(?:(?P<ms>{_NUMBER})ms)?"
    rf"(?:(?P<us>{_NUMBER})(?:us|\u00b5s|\u03bcs))?(?:(?P<ns>{_NUMBER})ns)?"
)
_SECONDS_PER_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def parse_duration(text: str) -> float:
    """Return the number of seconds that `text` denotes.

    Accepts `90s`, `15m`, `1h`, Go's smaller units (`500ms`, `250us`, `10ns`), combinations largest unit
    first as Go prints them (`1h30m`, `10m0s`, `1m30.5s`) and plain seconds (`90`, `2.5`, `0`).
    Surrounding whitespace and upper-case units are tolerated.
    Raises ValueError, naming the accepted forms, for anything else (negatives, `inf`, `1m1h`, ``).
    """
    candidate = text.strip().lower()
    if _PLAIN_SECONDS.fullmatch(candidate):
        seconds = float(candidate)
    else:
        match = _WITH_UNITS.fullmatch(candidate)
        if match is None or not candidate:
            raise ValueError(f"invalid duration {text!r}: expected {ACCEPTED_FORMS}")
        seconds = sum(
            float(amount) * _SECONDS_PER_UNIT[unit]
            for unit, amount in match.groupdict().items()
            if amount is not None
        )
    if not math.isfinite(seconds):
        raise ValueError(f"invalid duration {text!r}: too large; expected {ACCEPTED_FORMS}")
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds compactly for humans: `45s`, `2.5s`, `1m05s`, `1h02m03s`, `-10s`.

    Under a minute a fractional part is kept to one decimal; from a minute up, whole seconds.
    """
    if not math.isfinite(seconds):
        raise ValueError(f"cannot format a non-finite duration: {seconds!r}")
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 59.95 and seconds != int(seconds):
        return f"{round(seconds, 1):g}s"
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    hours, remainder = divmod(total, 3600)
    minutes, secs = divmod(remainder, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s"
