"""Mail is sent by a background job, enqueued in the transaction that gives the reason for it
(through the outbox), so a rolled-back change sends nothing and a committed one is not lost.

The message travels sealed: links in it (invitations, password resets) are secrets whose
database copies are only hashes, so the job payload in the outbox, Redis and the dead letters
is AES-GCM ciphertext under a key derived from the application secret.
"""

from __future__ import annotations

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from core.jobs.context import JobContext
from core.jobs.registry import job
from core.jobs.service import enqueue
from core.kernel.secret import open_payload, seal_payload
from core.kernel.settings import Settings
from core.kernel.tenancy import peek_tenant_id
from core.mail.backends import Message

__all__ = ["JOBS", "SealedMail", "open_sealed", "seal", "send_after_commit"]

_INFO = b"huike mail payload v1"


class SealedMail(msgspec.Struct, forbid_unknown_fields=True):
    sealed: str


def seal(settings: Settings, message: Message) -> str:
    return seal_payload(settings, _INFO, msgspec.json.encode(message))


def open_sealed(settings: Settings, sealed: str) -> Message:
    """Raises ValueError when the payload was sealed under another secret or altered."""
    return msgspec.json.decode(open_payload(settings, _INFO, sealed), type=Message)


async def _deliver(ctx: JobContext, payload: SealedMail) -> None:
    """Deliver one message. A failure is retried with backoff, then dead-lettered."""
    await ctx.mailer.send(open_sealed(ctx.settings, payload.sealed))


#: Mail of a business (invitations): carries the tenant, so its dead letters name it and its
#: pending rows go with the tenant.
send_mail = job("mail.send", SealedMail)(_deliver)
#: Mail of an account, outside any business (password resets).
send_account_mail = job("mail.send_account", SealedMail, platform=True)(_deliver)


async def send_after_commit(session: AsyncSession, settings: Settings, message: Message) -> None:
    """Send ``message`` once ``session``'s transaction commits (never if it rolls back), as
    the tenant's mail when a tenant is in context."""
    sender = send_mail if peek_tenant_id() is not None else send_account_mail
    await enqueue(session, sender, SealedMail(sealed=seal(settings, message)))


JOBS = [send_mail, send_account_mail]
