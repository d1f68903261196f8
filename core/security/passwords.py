"""Password hashing (argon2id, off the event loop) and the password policy."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.kernel.errors import Invalid

__all__ = ["check_password_policy", "hash_password", "hash_password_sync", "verify_password"]

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
_COMMON = frozenset(
    {
        "password",
        "password1",
        "password123",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyuiop",
        "11111111",
        "iloveyou",
        "admin123",
        "welcome1",
        "abc123456",
        "qwerty123",
        "00000000",
        "1q2w3e4r",
        "a1234567",
        "88888888",
        "woaini1314",
        "66666666",
    }
)


def check_password_policy(
    password: str, *, min_length: int, email: str = "", field: str = "password"
) -> None:
    """Raise :class:`Invalid` naming ``field`` and the reason when ``password`` is too weak."""
    if len(password) < min_length:
        raise Invalid(
            f"Password must be at least {min_length} characters long.", field=field, code="password_too_short"
        )
    if len(password) > 256:
        raise Invalid("Password must be at most 256 characters long.", field=field, code="password_too_long")
    lowered = password.lower()
    if lowered in _COMMON or len(set(password)) < 4:
        raise Invalid(
            "Password is too easy to guess; use a longer, less common phrase.",
            field=field,
            code="password_too_common",
        )
    local = email.split("@", 1)[0].lower()
    if local and len(local) >= 4 and local in lowered:
        raise Invalid(
            "Password must not contain your email address.", field=field, code="password_contains_email"
        )


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    def _verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(_verify)
