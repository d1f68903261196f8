"""What a running job or handler is given."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.database import Database
from core.kernel.settings import Settings
from core.mail import Mailer
from core.sms import TextMessenger

__all__ = ["JobContext"]


@dataclass(frozen=True, slots=True)
class JobContext:
    """``session`` is the job's transaction, opened in the job's tenant context: what the job
    writes there commits together with the record that it ran, exactly once (for a job
    declared ``idempotent`` there is no such record: it commits when the job returns). ``db``
    opens further transactions (a long, resumable job commits in batches); those commit on
    their own and must be idempotent by themselves."""

    session: AsyncSession
    db: Database
    settings: Settings
    mailer: Mailer
    #: Sends text messages: the tenant's SMS provider, else nobody (:mod:`core.sms`).
    texter: TextMessenger
    #: The tenant the job runs for; ``None`` for a platform job.
    tenant_id: uuid.UUID | None
    #: The event id (handlers) or job request id (jobs): stable across redeliveries.
    message_id: uuid.UUID
    #: 1 on the first try, then 2, 3... up to ``HUIKE_JOB_MAX_RETRIES + 1``.
    attempt: int
