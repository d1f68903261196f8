"""Password reset by emailed link. Accounts are platform-wide, and so are their resets.

Asking for a reset never tells whether an account exists: the answer is the same, and the
work (look-up, link, mail) happens after it is sent. Only a SHA-256 of the link's secret is
stored; the link works once, and using it ends every session of the account in every tenant.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import timedelta
from urllib.parse import urlencode

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.errors import Invalid
from core.kernel.settings import Settings
from core.kernel.tenancy import ALL_TENANTS, set_rls_user, tenant_context
from core.mail import Message, render_message
from core.mail.jobs import send_after_commit
from core.security import accounts
from core.security.models import Membership, PasswordReset, RefreshToken, User
from core.security.opaque import digest, new_secret, same_digest
from core.security.passwords import check_password_policy, hash_password

__all__ = [
    "MAX_PENDING_RESETS",
    "REQUESTED",
    "PasswordResetConfirm",
    "PasswordResetRequest",
    "PasswordResetRequested",
    "confirm_reset",
    "request_reset",
    "start_reset",
]

log = logging.getLogger("huike.password_reset")

#: Unused, unexpired links an account may have at once; further requests send nothing, so
#: nobody can flood a mailbox through the public route.
MAX_PENDING_RESETS = 3
#: The one answer to every reset request, whether or not the account exists.
REQUESTED = "If an account exists for this email, a link to reset its password is on its way."

_TOKEN = re.compile(r"^([0-9a-f]{32})\.([A-Za-z0-9_-]{16,128})$")


class PasswordResetRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: str


class PasswordResetRequested(msgspec.Struct):
    detail: str


class PasswordResetConfirm(msgspec.Struct, forbid_unknown_fields=True):
    token: str
    password: str


def _invalid() -> Invalid:
    return Invalid(
        "This password reset link is not valid: it may have expired or been used; ask for a new one.",
        field="token",
        code="invalid_reset_token",
    )


async def start_reset(
    session: AsyncSession, email: str, *, ttl_seconds: int, public_url: str
) -> Message | None:
    """Record a reset for the account of ``email``; returns the mail to send, or None when
    there is no such active account or it already has enough pending links."""
    user = await accounts.find_by_email(session, email)
    if user is None or not user.is_active:
        return None
    pending = await session.scalar(
        select(func.count())
        .select_from(PasswordReset)
        .where(
            PasswordReset.user_id == user.id,
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > utcnow(),
        )
    )
    if (pending or 0) >= MAX_PENDING_RESETS:
        log.info("password reset not sent: enough links pending")
        return None
    secret = new_secret()
    reset = PasswordReset(
        user_id=user.id, secret_hash=digest(secret), expires_at=utcnow() + timedelta(seconds=ttl_seconds)
    )
    session.add(reset)
    await session.flush()
    token = f"{reset.id.hex}.{secret}"
    link = f"{public_url.rstrip('/')}/reset-password?{urlencode({'token': token})}"
    return render_message(
        "password_reset",
        user.locale,
        to=user.email,
        full_name=user.full_name,
        link=link,
        minutes=max(1, ttl_seconds // 60),
    )


async def request_reset(db: Database, settings: Settings, email: str) -> None:
    """Background half of a reset request: record it and enqueue its mail in one
    transaction. Nobody waits for the outcome, so failures are logged rather than raised."""
    try:
        async with db.transaction() as session:
            message = await start_reset(
                session,
                email,
                ttl_seconds=settings.password_reset_ttl_seconds,
                public_url=settings.public_url,
            )
            if message is not None:
                await send_after_commit(session, settings, message)
    except Exception:
        log.exception("password reset request failed")


def _parse(token: str) -> tuple[uuid.UUID, str]:
    match = _TOKEN.match(token.strip())
    if match is None:
        raise _invalid()
    return uuid.UUID(hex=match[1]), match[2]


async def confirm_reset(db: Database, command: PasswordResetConfirm, *, min_password_length: int) -> None:
    """Set a new password with a valid link, spend the link and every other pending one, then
    revoke the account's refresh tokens in each tenant it belongs to."""
    reset_id, secret = _parse(command.token)
    async with db.transaction() as session:
        user_id = await _set_password(session, reset_id, secret, command.password, min_password_length)
        tenant_ids = await _member_tenant_ids(session, user_id)
    # refresh_tokens is tenant-owned (RLS on PostgreSQL): one transaction per tenant, each
    # opened inside that tenant's context. Done after the new password is committed, so a
    # session started with the old password in between is revoked too.
    now = utcnow()
    for tenant_id in tenant_ids:
        with tenant_context(tenant_id):
            async with db.transaction() as session:
                await session.execute(
                    update(RefreshToken)
                    .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=now)
                )


async def _set_password(
    session: AsyncSession, reset_id: uuid.UUID, secret: str, password: str, min_password_length: int
) -> uuid.UUID:
    reset = await session.scalar(select(PasswordReset).where(PasswordReset.id == reset_id))
    if (
        reset is None
        or not same_digest(reset.secret_hash, digest(secret))
        or reset.used_at is not None
        or reset.expires_at <= utcnow()
    ):
        raise _invalid()
    user = await session.get_one(User, reset.user_id)
    if not user.is_active:
        raise _invalid()
    check_password_policy(password, min_length=min_password_length, email=user.email)
    now = utcnow()
    spent = await session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None), PasswordReset.expires_at > now)
        .values(used_at=now)
        .returning(PasswordReset.id)
    )
    if spent.first() is None:  # a concurrent confirm spent it first
        raise _invalid()
    user.password_hash = await hash_password(password)
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    await session.flush()
    return user.id


async def _member_tenant_ids(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    """Every tenant the account has a membership in, active or not (a membership can be
    reactivated, and its old refresh tokens with it)."""
    await set_rls_user(session, user_id)
    rows = await session.scalars(
        select(Membership.tenant_id)
        .where(Membership.user_id == user_id)
        .distinct()
        .execution_options(**ALL_TENANTS)
    )
    return list(rows)
