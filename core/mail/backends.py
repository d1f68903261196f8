"""Mail backends behind one small interface. ``console`` prints the message (the embedded
default: an operator copies the link from the terminal), ``memory`` keeps it in a list
(tests), ``smtp`` delivers it to an SMTP server (``HUIKE_SMTP_*``)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.kernel.settings import Settings

__all__ = ["ConsoleMailer", "Mailer", "MemoryMailer", "Message", "SmtpMailer", "build_mailer"]

log = logging.getLogger("huike.mail")

SMTP_SECURITY = ("starttls", "ssl", "none")


@dataclass(frozen=True, slots=True)
class Message:
    to: str
    subject: str
    #: The plain-text part; every message has one.
    body: str
    #: The HTML alternative, when the template has one.
    html: str | None = None
    #: BCP 47 tag of the language the message is written in (``Content-Language``).
    language: str = "en"


class Mailer(Protocol):
    async def send(self, message: Message) -> None: ...


class ConsoleMailer:
    """Prints the message for the operator of an embedded install to copy the link from."""

    def __init__(self, sender: str) -> None:
        self.sender = sender

    async def send(self, message: Message) -> None:
        print(
            f"\n--- mail from {self.sender} to {message.to}: {message.subject}\n{message.body}\n---",
            flush=True,
        )
        log.info("mail sent to the console", extra={"subject": message.subject})


@dataclass
class MemoryMailer:
    outbox: list[Message] = field(default_factory=list)

    async def send(self, message: Message) -> None:
        self.outbox.append(message)


class SmtpMailer:
    """Delivers through an SMTP server. ``smtplib`` runs in a worker thread, one connection per
    message: mail is sent from background jobs, where simplicity beats connection reuse."""

    def __init__(
        self,
        *,
        sender: str,
        host: str,
        port: int,
        security: str = "starttls",
        username: str = "",
        password: str = "",
        timeout_seconds: float = 30.0,
    ) -> None:
        if security not in SMTP_SECURITY:
            raise ValueError(f"HUIKE_SMTP_SECURITY: expected one of {', '.join(SMTP_SECURITY)}")
        if not host:
            raise ValueError("HUIKE_SMTP_HOST is required when HUIKE_MAIL_BACKEND=smtp")
        self.sender = sender
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.timeout_seconds = timeout_seconds

    def compose(self, message: Message) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2].rstrip(">") or None)
        email.set_content(message.body)
        if message.html is not None:
            email.add_alternative(message.html, subtype="html")
        # After the body: turning a message multipart moves its Content-* headers into a part.
        email["Content-Language"] = message.language
        return email

    async def send(self, message: Message) -> None:
        await asyncio.to_thread(self._deliver, self.compose(message))
        log.info("mail sent over SMTP", extra={"subject": message.subject})

    def _deliver(self, email: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(email)


def build_mailer(settings: Settings) -> Mailer:
    backend = settings.mail_backend
    if backend == "console":
        return ConsoleMailer(settings.mail_from)
    if backend == "memory":
        return MemoryMailer()
    if backend == "smtp":
        return SmtpMailer(
            sender=settings.mail_from,
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout_seconds=settings.smtp_timeout_seconds,
        )
    raise ValueError(f"HUIKE_MAIL_BACKEND: unknown backend {backend!r} (console, memory, smtp)")
