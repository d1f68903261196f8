"""Periodic clean-up of identity data: expired refresh tokens, password resets and stale
login throttles."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_

from core.jobs.context import JobContext
from core.jobs.housekeeping import NoPayload
from core.jobs.registry import Periodic, job
from core.jobs.service import enqueue_for_each_tenant
from core.kernel.clock import utcnow
from core.security.models import LoginThrottle, PasswordReset, RefreshToken

__all__ = ["JOBS", "PERIODIC"]


@job("security.purge_expired_credentials", NoPayload, platform=True)
async def purge_expired_credentials(ctx: JobContext, _: NoPayload) -> None:
    """Platform tables are purged here; refresh tokens are tenant-owned (and under RLS), so
    this fans out one tenant job per tenant, the pattern for any per-tenant periodic work."""
    now = utcnow()
    await ctx.session.execute(
        delete(PasswordReset).where(or_(PasswordReset.expires_at < now, PasswordReset.used_at.is_not(None)))
    )
    idle = now - timedelta(seconds=ctx.settings.login_max_delay_seconds)
    await ctx.session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.updated_at < idle,
            or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until < now),
        )
    )
    await enqueue_for_each_tenant(ctx.session, purge_expired_refresh_tokens, NoPayload())


@job("security.purge_expired_refresh_tokens", NoPayload)
async def purge_expired_refresh_tokens(ctx: JobContext, _: NoPayload) -> None:
    """One tenant's expired refresh tokens (tenant-owned, so in the tenant's own job)."""
    await ctx.session.execute(delete(RefreshToken).where(RefreshToken.expires_at < utcnow()))


JOBS = [purge_expired_credentials, purge_expired_refresh_tokens]
PERIODIC = [Periodic(purge_expired_credentials, every=timedelta(hours=1))]
