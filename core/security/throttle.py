"""Login throttling per account and per IP, with delays that double after a few failures.

The counters live in the database, so every process of a deployment shares them and the
conditional upsert keeps concurrent failures counted.
"""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.clock import utcnow
from core.kernel.errors import TooManyRequests
from core.kernel.upsert import insert_for
from core.security.models import LoginThrottle

__all__ = ["LoginThrottling", "throttle_keys"]


def throttle_keys(email: str, ip: str | None) -> list[str]:
    keys = ["account:" + hashlib.sha256(email.encode()).hexdigest()[:40]]
    if ip:
        keys.append("ip:" + ip[:90])
    return keys


class LoginThrottling:
    """An account gets a few free failures; an IP, shared by a whole office behind NAT, more."""

    def __init__(self, free_attempts: int, free_attempts_per_ip: int, max_delay_seconds: int) -> None:
        self.free_attempts = free_attempts
        self.free_attempts_per_ip = free_attempts_per_ip
        self.max_delay = max_delay_seconds

    def delay_after(self, failures: int, key: str = "account:") -> int:
        """Seconds to wait after ``failures`` consecutive failures: 0 while free, then 1, 2, 4..."""
        free = self.free_attempts_per_ip if key.startswith("ip:") else self.free_attempts
        over = failures - free - 1
        if over < 0:
            return 0
        return min(self.max_delay, int(2**over))

    async def check(self, session: AsyncSession, keys: list[str]) -> None:
        rows = (await session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))).all()
        now = utcnow()
        waits = [row.blocked_until for row in rows if row.blocked_until and row.blocked_until > now]
        if waits:
            retry_after = math.ceil((max(waits) - now).total_seconds())
            raise TooManyRequests(
                f"Too many failed sign-ins. Try again in {retry_after} seconds.",
                code="login_throttled",
                headers={"Retry-After": str(retry_after)},
            )

    async def record_failure(self, session: AsyncSession, keys: list[str]) -> None:
        now = utcnow()
        for key in keys:
            upsert = insert_for(session, LoginThrottle).values(key=key, failures=1, updated_at=now)
            upsert = upsert.on_conflict_do_update(
                index_elements=["key"],
                set_={"failures": LoginThrottle.failures + 1, "updated_at": now},
            ).returning(LoginThrottle.failures)
            failures = (await session.execute(upsert)).scalar_one()
            delay = self.delay_after(failures, key)
            if delay:
                await session.execute(
                    update(LoginThrottle)
                    .where(LoginThrottle.key == key)
                    .values(blocked_until=now + timedelta(seconds=delay))
                )

    async def record_success(self, session: AsyncSession, account_key: str) -> None:
        await session.execute(delete(LoginThrottle).where(LoginThrottle.key == account_key))
