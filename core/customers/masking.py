"""Masking of personal fields for callers without ``customers.read_sensitive``.

The rule keeps just enough to recognise a value: ``+86 138****5678``, ``a***@example.com``,
``北京市朝阳区****``, ``110***********1234``.
"""

from __future__ import annotations

from core.crypto.phones import STARS, mask_phone

__all__ = ["STARS", "mask_address", "mask_email", "mask_id_number", "mask_phone"]


def mask_email(value: str | None) -> str | None:
    if value is None:
        return None
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if domain else STARS


def mask_address(value: str | None) -> str | None:
    if value is None:
        return None
    keep = min(6, len(value) // 2)
    return value[:keep] + STARS


def mask_id_number(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) <= 8:
        return STARS
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
