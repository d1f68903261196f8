"""Identifiers: UUIDv7, time ordered, so new rows land at the end of every index."""

from __future__ import annotations

import uuid

import uuid_utils

__all__ = ["new_id"]


def new_id() -> uuid.UUID:
    """Return a new UUIDv7 as a standard-library ``uuid.UUID``."""
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)
