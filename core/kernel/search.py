"""Text search helpers shared by the lists of every domain."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

__all__ = ["contains"]


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """``column`` contains ``text`` (case-insensitive for Latin letters), with ``%``, ``_`` and
    ``\\`` in ``text`` matched literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    clause: ColumnElement[bool] = column.ilike(f"%{escaped}%", escape="\\")
    return clause
