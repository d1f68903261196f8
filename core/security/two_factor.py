"""TOTP two-factor authentication (RFC 6238) through pyotp.

A person turns it on in two steps: :func:`start_setup` stores a fresh secret on the account
(not yet enabled) and returns it with an ``otpauth://`` URI for the authenticator app;
:func:`enable` checks a code computed from that secret and turns 2FA on. From then on,
signing in asks for a current code. :func:`disable` needs the password and a current code,
and is refused while the current tenant requires 2FA.

The secret is stored as is on ``users.totp_secret`` until field encryption lands.
"""

from __future__ import annotations

import msgspec
import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from core.kernel.models import Tenant
from core.security.models import User
from core.security.passwords import verify_password
from core.security.principal import Principal

__all__ = [
    "DisableTwoFactor",
    "EnableTwoFactor",
    "TwoFactorSetup",
    "TwoFactorStatus",
    "disable",
    "enable",
    "new_secret",
    "provisioning_uri",
    "start_setup",
    "verify",
    "verify_secret",
]

ISSUER = "Huike"


class TwoFactorSetup(msgspec.Struct):
    """The pending secret, shown once: type it in, or render ``otpauth_uri`` as a QR code."""

    secret: str
    otpauth_uri: str


class TwoFactorStatus(msgspec.Struct):
    enabled: bool


class EnableTwoFactor(msgspec.Struct, forbid_unknown_fields=True):
    code: str


class DisableTwoFactor(msgspec.Struct, forbid_unknown_fields=True):
    password: str
    code: str


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return str(pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER))


def verify(user: User, code: str) -> bool:
    """Accept the current code and its neighbours (30 s of clock drift each way)."""
    if not user.totp_secret:
        return False
    return verify_secret(user.totp_secret, code)


def verify_secret(secret: str, code: str) -> bool:
    return bool(pyotp.TOTP(secret).verify(code.strip(), valid_window=1))


async def _own_account(session: AsyncSession, principal: Principal) -> User:
    """The caller's account, locked: setup, enable and disable must not interleave."""
    if principal.user_id is None:
        raise Forbidden(
            "Two-factor authentication belongs to a person; API keys have none.", code="not_a_person"
        )
    user = await session.get(User, principal.user_id, with_for_update=True)
    if user is None:
        raise NotFound()
    return user


def _ensure_not_enabled(user: User) -> None:
    if user.totp_enabled:
        raise Conflict(
            "Two-factor authentication is already on; turn it off first to use a new device.",
            code="two_factor_already_enabled",
        )


async def start_setup(session: AsyncSession, principal: Principal) -> TwoFactorSetup:
    """Store a fresh secret on the caller's account, not yet enabled (replacing a pending one)."""
    user = await _own_account(session, principal)
    _ensure_not_enabled(user)
    user.totp_secret = new_secret()
    await session.flush()
    return TwoFactorSetup(secret=user.totp_secret, otpauth_uri=provisioning_uri(user.totp_secret, user.email))


async def enable(session: AsyncSession, principal: Principal, command: EnableTwoFactor) -> TwoFactorStatus:
    """Turn 2FA on once the caller proves their app holds the pending secret."""
    user = await _own_account(session, principal)
    _ensure_not_enabled(user)
    if not user.totp_secret:
        raise Conflict(
            "Start with POST /api/v1/me/2fa/setup to get a secret for your authenticator app.",
            code="two_factor_setup_not_started",
        )
    if not verify_secret(user.totp_secret, command.code):
        raise Invalid(
            "The code does not match; check the time on your device and enter the current code.",
            field="code",
            code="invalid_code",
        )
    user.totp_enabled = True
    await session.flush()
    return TwoFactorStatus(enabled=True)


async def disable(session: AsyncSession, principal: Principal, command: DisableTwoFactor) -> TwoFactorStatus:
    """Turn 2FA off with the password and a current code, unless the tenant requires it."""
    user = await _own_account(session, principal)
    if not user.totp_enabled:
        raise Conflict("Two-factor authentication is not on.", code="two_factor_not_enabled")
    tenant = await session.get(Tenant, principal.tenant_id)
    if tenant is not None and tenant.require_two_factor:
        raise Conflict(
            "This business requires two-factor authentication; it cannot be turned off.",
            code="two_factor_required_by_tenant",
        )
    if not await verify_password(user.password_hash, command.password):
        raise Invalid("The password is incorrect.", field="password", code="wrong_password")
    if not verify(user, command.code):
        raise Invalid(
            "The code does not match; enter the current code from your authenticator app.",
            field="code",
            code="invalid_code",
        )
    user.totp_enabled = False
    user.totp_secret = None
    await session.flush()
    return TwoFactorStatus(enabled=False)
