"""Periodic clean-up of identity data: expired refresh tokens, password resets and stale
login throttles."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_, select

from core.jobs.context import JobContext
from core.jobs.housekeeping import NoPayload
from core.jobs.registry import Periodic, job
from core.kernel.clock import utcnow
from core.kernel.models import Tenant
from core.kernel.tenancy import tenant_context
from core.security.models import LoginThrottle, PasswordReset, RefreshToken

__all__ = ["JOBS", "PERIODIC"]


@job("security.purge_expired_credentials", NoPayload, platform=True)
async def purge_expired_credentials(ctx: JobContext, _: NoPayload) -> None:
    """Platform tables are purged in the job's transaction; refresh tokens are tenant-owned
    (and under RLS), so each tenant's are purged in that tenant's own transaction."""
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
    tenant_ids = (await ctx.session.scalars(select(Tenant.id))).all()
    for tenant_id in tenant_ids:
        with tenant_context(tenant_id):
            async with ctx.db.transaction() as session:
                await session.execute(delete(RefreshToken).where(RefreshToken.expires_at < now))


JOBS = [purge_expired_credentials]
PERIODIC = [Periodic(purge_expired_credentials, every=timedelta(hours=1))]
