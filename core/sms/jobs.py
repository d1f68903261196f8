"""Text messages are sent by a background job, enqueued in the transaction that gives the
reason for them (through the outbox): a rolled-back change sends nothing, a committed one is
not lost, and a failing gateway fails (and retries) this job alone, not the work that
enqueued it.

The payload carries a phone number, personal data that is encrypted at rest: it travels
sealed (AES-GCM under a key derived from the application secret) through the outbox, Redis
and the dead letters, like mail.
"""

from __future__ import annotations

import logging

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from core.jobs.context import JobContext
from core.jobs.registry import job
from core.jobs.service import enqueue
from core.kernel.secret import open_payload, seal_payload
from core.kernel.settings import Settings
from core.kernel.tenancy import current_tenant_id
from core.sms.messenger import TextMessage

__all__ = ["JOBS", "SealedText", "open_sealed", "seal", "send_text", "send_text_after_commit"]

log = logging.getLogger("huike.sms")

_INFO = b"huike sms payload v1"


class SealedText(msgspec.Struct, forbid_unknown_fields=True):
    sealed: str


def seal(settings: Settings, message: TextMessage) -> str:
    return seal_payload(settings, _INFO, msgspec.json.encode(message))


def open_sealed(settings: Settings, sealed: str) -> TextMessage:
    """Raises ValueError when the payload was sealed under another secret or altered."""
    return msgspec.json.decode(open_payload(settings, _INFO, sealed), type=TextMessage)


@job("sms.send", SealedText)
async def send_text(ctx: JobContext, payload: SealedText) -> None:
    """Send one text message of the job's tenant. Nobody taking it is not a failure (it is
    logged); a provider that fails is retried with backoff, then dead-lettered."""
    message = open_sealed(ctx.settings, payload.sealed)
    sent = await ctx.texter.send(message)
    if sent is None:
        log.info("text message not sent: no provider takes its purpose", extra={"purpose": message.purpose})
    else:
        log.info("text message sent", extra={"purpose": message.purpose, "provider": sent.provider})


async def send_text_after_commit(session: AsyncSession, settings: Settings, message: TextMessage) -> None:
    """Send ``message`` as the text of the tenant in context once ``session``'s transaction
    commits (never if it rolls back)."""
    current_tenant_id()  # text messages are a business's: refuse to enqueue one without it
    await enqueue(session, send_text, SealedText(sealed=seal(settings, message)))


JOBS = [send_text]
