"""What provider hooks take and return (email, SMS, chat notifications, tax)."""

from __future__ import annotations

from decimal import Decimal

import msgspec

__all__ = ["ChatMessage", "EmailMessage", "SmsMessage", "SmsResult", "TaxLine", "TaxQuote"]


class EmailMessage(msgspec.Struct, frozen=True, kw_only=True):
    to: str
    subject: str
    body: str
    html: str | None = None
    language: str = "en"


class SmsMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A templated text message: gateways in China send approved templates only."""

    #: The recipient's mobile in E.164 (``+8613800138000``).
    phone: str
    #: The purpose (``activity.reminder``); the plugin maps it to its gateway's template id.
    template: str
    #: The values of the template's slots; see docs/plugins/providers.md for each purpose's.
    params: dict[str, str] = {}
    language: str = "zh-CN"


class SmsResult(msgspec.Struct, frozen=True, kw_only=True):
    provider: str
    message_id: str | None = None


class ChatMessage(msgspec.Struct, frozen=True, kw_only=True):
    title: str
    #: Markdown text, already in the tenant's language.
    text: str
    language: str = "en"


class TaxLine(msgspec.Struct, frozen=True, kw_only=True):
    amount: Decimal
    currency: str
    #: A product or tax category the provider understands (``goods``, ``services``...).
    category: str = "goods"
    region: str | None = None


class TaxQuote(msgspec.Struct, frozen=True, kw_only=True):
    provider: str
    #: One tax amount per line, in the line's currency.
    taxes: list[Decimal]
