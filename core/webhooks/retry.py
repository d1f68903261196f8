"""When a failed delivery is tried again: ``HUIKE_WEBHOOK_RETRY_SCHEDULE`` and
``HUIKE_WEBHOOK_MAX_ATTEMPTS``, with jitter so that many deliveries failing together (an
endpoint down for an hour) do not all come back in the same second."""

from __future__ import annotations

import random
import re
from datetime import timedelta

from core.kernel.settings import Settings, SettingsError

__all__ = ["JITTER", "parse_delay", "retry_delay", "schedule"]

#: Each delay is moved by up to this fraction, either way.
JITTER = 0.1
_DELAY = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_delay(text: str) -> timedelta:
    """``"10s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"250ms"`` → a timedelta."""
    match = _DELAY.match(text.strip())
    if match is None:
        raise SettingsError(
            f"HUIKE_WEBHOOK_RETRY_SCHEDULE: {text!r} is not a delay such as 10s, 5m, 2h or 1d"
        )
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def schedule(settings: Settings) -> list[timedelta]:
    """The configured delays before the 2nd, 3rd... attempt."""
    delays = [parse_delay(item) for item in settings.webhook_retry_schedule]
    if not delays:
        raise SettingsError("HUIKE_WEBHOOK_RETRY_SCHEDULE: give at least one delay")
    return delays


def retry_delay(settings: Settings, attempts_made: int, rng: random.Random | None = None) -> timedelta | None:
    """How long to wait after the ``attempts_made``-th failed attempt, or None when that was
    the last one allowed (the delivery is then ``dead``)."""
    if attempts_made >= settings.webhook_max_attempts:
        return None
    delays = schedule(settings)
    base = delays[min(attempts_made, len(delays)) - 1]
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    return base * factor
