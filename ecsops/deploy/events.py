"""Service events for people: only those after the run's snapshot, target groups by name, repeats folded."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MAX_EVENTS_SHOWN = 20  # per poll; a service that logged more since the last poll shows its newest

_TARGET_GROUP_ARN = re.compile(
    r"arn:aws[\w-]*:elasticloadbalancing:[\w-]*:\d*:targetgroup/(?P<name>[\w-]+)/[0-9a-f]+"
)
_TARGETS = re.compile(r"^(?P<head>.*?)\b(?P<verb>registered|deregistered) (?P<count>\d+) targets in (?P<tail>.*)$")


def target_group_name(arn_or_name: str) -> str:
    """`web-tg` for `arn:aws:elasticloadbalancing:...:targetgroup/web-tg/50dc6c495c0c9188` (a name stays)."""
    match = _TARGET_GROUP_ARN.search(arn_or_name)
    return match.group("name") if match else arn_or_name


def readable(message: str) -> str:
    """An ECS message with every target-group ARN replaced by the group's name."""
    return _TARGET_GROUP_ARN.sub(lambda match: match.group("name"), message)


def events_after(service: Mapping[str, Any], watermark: str | None) -> tuple[list[str], str | None]:
    """(messages of the events newer than the event `watermark`, oldest first; the new watermark).

    ECS lists events newest first with stable ids, so "newer" is "above the watermark in the list": no clock
    of this host is compared with AWS's. A watermark of "" (the service had no events) makes every event
    new; None (not known) makes none new, so an old history is never replayed. A watermark that has fallen
    off the list (ECS keeps the last 100) means every listed event is new.
    """
    events = list(service.get("events") or [])
    newest = str(events[0].get("id")) if events else watermark
    if watermark is None:
        return [], newest
    fresh: list[str] = []
    for event in events:
        if str(event.get("id")) == watermark:
            break
        fresh.append(str(event.get("message", "")))
    fresh.reverse()
    return fresh, newest


def fold(messages: list[str]) -> list[str]:
    """One line per kind of message, in order of first appearance, target groups by name.

    "registered 1 targets in (target-group web-tg)" twice becomes "registered 2 targets in (target-group
    web-tg)"; any other message repeated verbatim gets "(3 times)".
    """
    counts: dict[tuple[str, ...], int] = {}
    for message in (readable(m) for m in messages):
        match = _TARGETS.match(message)
        if match:
            key: tuple[str, ...] = (match.group("head"), match.group("verb"), match.group("tail"))
            counts[key] = counts.get(key, 0) + int(match.group("count"))
        else:
            counts[(message,)] = counts.get((message,), 0) + 1
    lines = []
    for key, count in counts.items():
        if len(key) == 3:
            head, verb, tail = key
            lines.append(f"{head}{verb} {count} targets in {tail}")
        else:
            lines.append(key[0] if count == 1 else f"{key[0]} ({count} times)")
    return lines


def shown(messages: list[str]) -> list[str]:
    """The folded lines to print for one poll, at most MAX_EVENTS_SHOWN, newest kept."""
    lines = fold(messages)
    if len(lines) <= MAX_EVENTS_SHOWN:
        return lines
    skipped = len(lines) - MAX_EVENTS_SHOWN
    return [f"({skipped} earlier events not shown: aws ecs describe-services lists them)", *lines[-MAX_EVENTS_SHOWN:]]
