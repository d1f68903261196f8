"""Outgoing mail behind one small interface. ``console`` logs the message (embedded default);
``memory`` keeps it in a list (tests). SMTP delivery arrives with the jobs machinery."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["ConsoleMailer", "Mailer", "MemoryMailer", "Message", "build_mailer"]

log = logging.getLogger("huike.mail")


@dataclass(frozen=True, slots=True)
class Message:
    to: str
    subject: str
    body: str


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


def build_mailer(backend: str, sender: str) -> Mailer:
    if backend == "console":
        return ConsoleMailer(sender)
    if backend == "memory":
        return MemoryMailer()
    raise ValueError(f"HUIKE_MAIL_BACKEND: unknown backend {backend!r} (console, memory)")
