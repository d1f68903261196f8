"""What a text message is, and the small interface that sends one."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["NoTextMessenger", "SentText", "TextMessage", "TextMessenger"]

log = logging.getLogger("huike.sms")


@dataclass(frozen=True, slots=True)
class TextMessage:
    """A templated text message: gateways in mainland China send pre-approved templates only,
    so Huike sends a purpose and the values of its slots, never free text."""

    #: The recipient's mobile in E.164 (``+8613800138000``).
    to: str
    #: What the message is for (``activity.reminder``); a provider maps it to a template.
    purpose: str
    #: The values of the template's slots (``{"subject": ..., "time": ...}``), already short.
    params: dict[str, str] = field(default_factory=dict)
    #: BCP 47 tag of the language the values are written in.
    language: str = "zh-CN"


@dataclass(frozen=True, slots=True)
class SentText:
    """A gateway accepted the message."""

    #: Who sent it (the provider plugin's name, ``sms``).
    provider: str
    #: The gateway's receipt id, to look its delivery report up.
    message_id: str | None = None


class TextMessenger(Protocol):
    async def send(self, message: TextMessage) -> SentText | None:
        """Send ``message``; ``None`` when nobody sent it (no provider for its purpose).
        Raises when a provider took it and failed: the sending job retries."""
        ...


class NoTextMessenger:
    """The core's default and last resort: Huike runs no SMS gateway, so the message is not
    sent, and the answer says so (never a pretended send)."""

    async def send(self, message: TextMessage) -> SentText | None:
        log.info("text message not sent: no SMS provider", extra={"purpose": message.purpose})
        return None
