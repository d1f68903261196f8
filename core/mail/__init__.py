"""Outgoing email: rendered from templates in the recipient's language, sent by a backend."""

from core.mail.backends import ConsoleMailer, Mailer, MemoryMailer, Message, SmtpMailer, build_mailer
from core.mail.templates import SUPPORTED_LOCALES, render_message

__all__ = [
    "SUPPORTED_LOCALES",
    "ConsoleMailer",
    "Mailer",
    "MemoryMailer",
    "Message",
    "SmtpMailer",
    "build_mailer",
    "render_message",
]
