"""The tenant's outgoing mail through a provider plugin (``send_email``), with the
platform's mailer as the last resort."""

from __future__ import annotations

from core.kernel.database import Database
from core.kernel.tenancy import peek_tenant_id
from core.mail import Mailer, Message
from plugins.dispatch import TenantDispatch
from plugins.manager import PluginHost
from plugins.sdk.providers import EmailMessage

__all__ = ["PluginMailer"]


class PluginMailer:
    """A :class:`core.mail.Mailer`: a tenant's mail goes to the first of its enabled plugins
    that sends it; platform mail (no tenant) and mail no plugin took go to ``fallback``."""

    def __init__(self, fallback: Mailer, host: PluginHost, db: Database) -> None:
        self.fallback = fallback
        self.host = host
        self.db = db

    async def send(self, message: Message) -> None:
        if peek_tenant_id() is None or not self.host.has_implementations("send_email"):
            await self.fallback.send(message)
            return
        async with self.db.transaction() as session:
            dispatch = await TenantDispatch.open(self.host, session)
            sent = await dispatch.first_result(
                "send_email",
                message=EmailMessage(
                    to=message.to,
                    subject=message.subject,
                    body=message.body,
                    html=message.html,
                    language=message.language,
                ),
            )
        if not sent:
            await self.fallback.send(message)
