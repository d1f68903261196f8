"""Phone numbers of people (customers, contacts, leads, members): stored in E.164, with the
installation's region (``HUIKE_PHONE_REGION``) for numbers written without a country code,
and shown masked (``+86 138****5678``) to a caller who may not see them in full."""

from __future__ import annotations

import phonenumbers
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto.codec import normalize
from core.crypto.keyring import keyring_of

__all__ = ["STARS", "mask_phone", "normalized_phone"]

STARS = "****"


def normalized_phone(session: AsyncSession, value: str | None, field: str) -> str | None:
    """``value`` in E.164 (the region of ``HUIKE_PHONE_REGION`` when it has no country code);
    ``None`` for an empty value.

    Raises:
        Invalid: not a phone number (``invalid_phone``, naming ``field``).
    """
    if value is None or not value.strip():
        return None
    region = keyring_of(session.sync_session).phone_region
    return normalize("phone", value, region=region, field=field)


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
