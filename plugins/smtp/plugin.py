"""The ``smtp`` plugin: the tenant's own SMTP server for its outgoing mail (invitations,
reminders, notices), instead of the platform's. A ``send_email`` provider: mail goes out
From the tenant's address, through the tenant's server; a failure fails the sending job,
which retries and, after the last retry, lands in the dead letters (Huike does not fall back
to the platform's server and sender behind the tenant's back)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from core.mail import Message, SmtpMailer
from plugins.sdk import SECRET, EmailMessage, HookContext, PluginInfo, hookimpl

__all__ = ["SmtpConfig"]


class SmtpConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    #: The From header, e.g. ``Acme Sales <sales@acme.example>``.
    sender: Annotated[str, msgspec.Meta(min_length=3, max_length=200, pattern=r"@")]
    host: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 587
    #: ``starttls`` (port 587), ``ssl`` (implicit TLS, port 465) or ``none``.
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password: Annotated[str, SECRET] | None = None
    timeout_seconds: Annotated[int, msgspec.Meta(ge=1, le=120)] = 30


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name="smtp",
        title="Own mail server (SMTP)",
        title_zh="自有邮件服务器（SMTP）",
        description="Send this business's email from its own address through its own SMTP server.",
        version="1",
        config=SmtpConfig,
        first_party=True,
    )


@hookimpl
async def send_email(ctx: HookContext, message: EmailMessage) -> bool:
    config: SmtpConfig = ctx.config
    mailer = SmtpMailer(
        sender=config.sender,
        host=config.host,
        port=config.port,
        security=config.security,
        username=config.username,
        password=config.password or "",
        timeout_seconds=config.timeout_seconds,
    )
    await mailer.send(
        Message(
            to=message.to,
            subject=message.subject,
            body=message.body,
            html=message.html,
            language=message.language,
        )
    )
    return True
