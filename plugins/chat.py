"""What the chat-robot plugins (``wecom``, ``dingtalk``) share: the configuration fields,
the names behind an event's ids, and the check that a robot URL may be called."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.customers.models import Contact, Customer
from core.kernel.errors import Invalid
from core.leads.models import Lead
from core.sales.models import Opportunity, Stage
from core.security.models import User
from core.webhooks.subscriptions import subscribes
from core.webhooks.urls import check_destination, check_endpoint_url
from plugins.notifications import Notification, render_event
from plugins.sdk import HookContext
from plugins.sdk.events import DomainEvent

__all__ = ["DEFAULT_EVENTS", "check_robot_url", "notification_for", "wants"]

#: What a group hears about unless its admin chooses otherwise.
DEFAULT_EVENTS = ["customers.created", "leads.created", "opportunities.won", "opportunities.lost"]

_LOOKUPS: dict[str, tuple[Any, Any]] = {
    "customer_id": (Customer.id, Customer.name),
    "survivor_id": (Customer.id, Customer.name),
    "merged_id": (Customer.id, Customer.name),
    "contact_id": (Contact.id, Contact.name),
    "lead_id": (Lead.id, Lead.name),
    "opportunity_id": (Opportunity.id, Opportunity.name),
    "owner_id": (User.id, User.full_name),
    "to_owner_id": (User.id, User.full_name),
    "from_stage_id": (Stage.id, Stage.name),
    "to_stage_id": (Stage.id, Stage.name),
}


def wants(events: list[str], event: DomainEvent) -> bool:
    return subscribes(events, event.name)


async def _names(session: AsyncSession, payload: Mapping[str, Any]) -> dict[str, str]:
    """The name of each record an event points at, by role (``customer``, ``to_owner``...),
    read in the tenant's session; a record that is gone keeps its short id."""
    names: dict[str, str] = {}
    for field, (id_column, name_column) in _LOOKUPS.items():
        raw = payload.get(field)
        if not raw:
            continue
        name = await session.scalar(select(name_column).where(id_column == uuid.UUID(str(raw))))
        if name:
            names[field.removesuffix("_id")] = str(name)
    return names


async def notification_for(ctx: HookContext, event: DomainEvent, language: str) -> Notification:
    payload = msgspec.to_builtins(event)
    return render_event(event.name, payload, language, names=await _names(ctx.session, payload))


async def check_robot_url(ctx: HookContext, url: str, official_host: str) -> None:
    """Robots and gateways are called only at their official host (or anywhere, where the
    operator allows private addresses: development and tests), never at a private address."""
    allow_private = ctx.settings.webhook_allow_private_urls
    host = urlsplit(url).hostname or ""
    if not allow_private and host != official_host:
        raise Invalid(f"The robot URL must be on {official_host}.", field="config.webhook_url")
    check_endpoint_url(url, allow_private=allow_private, field="config.webhook_url")
    await check_destination(url, allow_private=allow_private)
