"""Text search helpers shared by the lists of every domain."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

__all__ = ["contains", "starts_with"]


def _literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """``column`` contains ``text`` (case-insensitive for Latin letters), with ``%``, ``_`` and
    ``\\`` in ``text`` matched literally."""
    clause: ColumnElement[bool] = column.ilike(f"%{_literal(text)}%", escape="\\")
    return clause


def starts_with(column: Any, text: str) -> ColumnElement[bool]:
    """``column`` starts with ``text``, matched as :func:`contains` matches."""
    clause: ColumnElement[bool] = column.ilike(f"{_literal(text)}%", escape="\\")
    return clause
