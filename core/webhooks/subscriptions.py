"""Which events an endpoint receives: exact names, ``<prefix>.*`` patterns, or ``*``."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from core.kernel.errors import FieldError, Invalid

__all__ = ["ALL_EVENTS", "check_events", "subscribes"]

ALL_EVENTS = "*"
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.\*$")


def subscribes(events: Iterable[str], event_name: str) -> bool:
    for item in events:
        if item in (ALL_EVENTS, event_name):
            return True
        if item.endswith(".*") and event_name.startswith(item[:-1]):
            return True
    return False


def check_events(
    events: Iterable[str], *, known: Collection[str] | None = None, field: str = "events"
) -> list[str]:
    """The subscription list cleaned up (stripped, duplicates dropped); 422 naming the entry
    at fault. With ``known`` (the event names of this installation), an exact name must be
    one of them and a pattern must match at least one."""
    cleaned = list(dict.fromkeys(item.strip() for item in events))
    errors: list[FieldError] = []
    for index, item in enumerate(cleaned):
        where = f"{field}[{index}]"
        if item == ALL_EVENTS:
            continue
        if not (_NAME.match(item) or _PATTERN.match(item)):
            reason = f"{item!r} is not an event name (customers.created), a pattern (customers.*) or *."
            errors.append(FieldError(where, reason))
        elif known is not None and not any(subscribes([item], name) for name in known):
            errors.append(FieldError(where, f"No event is called {item!r}."))
    if not cleaned:
        errors.append(FieldError(field, "Choose at least one event."))
    if errors:
        raise Invalid(errors[0].reason, errors=errors, code="invalid_events")
    if ALL_EVENTS in cleaned:
        return [ALL_EVENTS]
    return cleaned
