"""Masking of personal fields for callers without ``customers.read_sensitive``.

The rule keeps just enough to recognise a value: ``+86 138****5678``, ``a***@example.com``,
``北京市朝阳区****``, ``110***********1234``.
"""

from __future__ import annotations

import phonenumbers

__all__ = ["mask_address", "mask_email", "mask_id_number", "mask_phone"]

STARS = "****"


def mask_phone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        number = phonenumbers.parse(value, None)
        national = str(number.national_number)
        prefix = f"+{number.country_code} "
    except phonenumbers.NumberParseException:
        national, prefix = "".join(ch for ch in value if ch.isdigit()), ""
    if len(national) <= 7:
        return prefix + STARS + national[-2:]
    return f"{prefix}{national[:3]}{STARS}{national[-4:]}"


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
