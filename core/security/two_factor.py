"""TOTP two-factor authentication (RFC 6238) through pyotp."""

from __future__ import annotations

import pyotp

from core.security.models import User

__all__ = ["new_secret", "provisioning_uri", "verify"]


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return str(pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Huike"))


def verify(user: User, code: str) -> bool:
    """Accept the current code and its neighbours (30 s of clock drift each way)."""
    if not user.totp_secret:
        return False
    return bool(pyotp.TOTP(user.totp_secret).verify(code.strip(), valid_window=1))


def verify_secret(secret: str, code: str) -> bool:
    return bool(pyotp.TOTP(secret).verify(code.strip(), valid_window=1))
