"""The tenant's text messages through its provider plugins (``send_sms``), with the core's
:class:`core.sms.NoTextMessenger` (nothing is sent) as the last resort."""

from __future__ import annotations

from core.kernel.database import Database
from core.kernel.tenancy import peek_tenant_id
from core.sms import SentText, TextMessage, TextMessenger
from plugins.dispatch import TenantDispatch
from plugins.manager import PluginHost
from plugins.sdk.providers import SmsMessage, SmsResult

__all__ = ["PluginTextMessenger"]


class PluginTextMessenger:
    """A :class:`core.sms.TextMessenger`: a tenant's text message goes to the first of its
    enabled plugins whose ``send_sms`` takes its purpose; one nobody took (and any outside a
    tenant) goes to ``fallback``."""

    def __init__(self, fallback: TextMessenger, host: PluginHost, db: Database) -> None:
        self.fallback = fallback
        self.host = host
        self.db = db

    async def send(self, message: TextMessage) -> SentText | None:
        if peek_tenant_id() is None or not self.host.has_implementations("send_sms"):
            return await self.fallback.send(message)
        async with self.db.transaction() as session:
            dispatch = await TenantDispatch.open(self.host, session)
            result: SmsResult | None = await dispatch.first_result(
                "send_sms",
                message=SmsMessage(
                    phone=message.to,
                    template=message.purpose,
                    params=dict(message.params),
                    language=message.language,
                ),
            )
        if result is None:
            return await self.fallback.send(message)
        return SentText(provider=result.provider, message_id=result.message_id)
