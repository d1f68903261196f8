"""The hooks of the credit check plugin.

* a configuration with a blocklist and the credit bureau's API key (a secret);
* a check: a customer whose name contains a blocked word is refused;
* an event hook: every new customer gets a pending credit check request (its own table);
* routes: ``GET /api/v1/plugins/creditcheck/requests`` lists them;
* a permission, ``creditcheck.read``, that the admin role template receives.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import get
from sqlalchemy import select

from core.apps.scopes import AppScope
from core.customers.schemas import CustomerView
from core.security.rbac import Permission
from huike_creditcheck.models import CreditCheck
from plugins.sdk import SECRET, HookContext, PluginInfo, hookimpl
from plugins.sdk.events import CustomerCreated, DomainEvent
from plugins.sdk.routes import SessionDep


class CreditCheckConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    #: Words that refuse a new customer whose name contains one (case-insensitive).
    blocked_words: list[str] = []
    #: The credit bureau's API key.
    api_key: Annotated[str, SECRET]
    #: How many checks to run per day at most.
    daily_limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100


class CreditCheckView(msgspec.Struct):
    customer_id: str
    status: str
    requested_at: str


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name="creditcheck",
        title="Credit check",
        title_zh="信用核查",
        description="Refuses customers on a blocklist and queues a credit check for every new one.",
        version="0.1.0",
        config=CreditCheckConfig,
    )


@hookimpl
def register_permissions() -> Iterable[Permission]:
    return [Permission("creditcheck.read", "See the credit check requests.", {"admin": "all"})]


@hookimpl
def register_scopes() -> Iterable[AppScope]:
    # Lets an installed app (with this scope granted) read the requests too.
    return [
        AppScope(
            "creditcheck:read",
            "See credit check requests",
            "查看信用核查请求",
            frozenset({"creditcheck.read"}),
        )
    ]


@get("/requests", opt={"permission": "creditcheck.read"}, summary="List credit check requests")
async def list_requests(session: SessionDep) -> list[CreditCheckView]:
    rows = await session.scalars(select(CreditCheck).order_by(CreditCheck.requested_at))
    return [CreditCheckView(str(r.customer_id), r.status, r.requested_at.isoformat()) for r in rows]


@hookimpl
def register_routes() -> Iterable[Any]:
    return [list_requests]


@hookimpl
def register_migrations() -> str:
    return str(Path(__file__).parent / "migrations")


@hookimpl
def before_customer_create(ctx: HookContext, customer: CustomerView) -> str | None:
    name = customer.name.casefold()
    for word in ctx.config.blocked_words:
        if word.casefold() in name:
            return f"{customer.name!r} is on the credit blocklist ({word!r})."
    return None


@hookimpl
async def on_event(ctx: HookContext, event: DomainEvent) -> None:
    if not isinstance(event, CustomerCreated):
        return
    # Huike delivers each event once per plugin; the unique constraint guards the rest.
    existing = await ctx.session.scalar(
        select(CreditCheck.id).where(CreditCheck.customer_id == event.customer_id)
    )
    if existing is None:
        ctx.session.add(CreditCheck(customer_id=event.customer_id, requested_at=datetime.now(UTC)))
