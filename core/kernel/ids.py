"""Identifiers: UUIDv7, time ordered, so new rows land at the end of every index."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import uuid_utils

__all__ = ["id_time", "new_id"]


def new_id() -> uuid.UUID:
    """Return a new UUIDv7 as a standard-library ``uuid.UUID``."""
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)


def id_time(value: uuid.UUID) -> datetime:
    """When a UUIDv7 was made (its first 48 bits are Unix milliseconds), in UTC."""
    return datetime.fromtimestamp(int.from_bytes(value.bytes[:6], "big") / 1000, UTC)
