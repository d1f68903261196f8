"""What a hook receives: who, for which tenant, in which transaction, with which config."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.settings import Settings

__all__ = ["Actor", "HookContext"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused the call: ``user``, ``api_key``, ``app``, ``system`` (a job), with its id."""

    type: str
    id: str | None


@dataclass(frozen=True, slots=True)
class HookContext:
    """The context of one hook call for one plugin.

    ``session`` is bound to ``tenant_id``: every query through it sees that tenant's rows
    only. In a check hook it is the transaction of the change being checked (it has not
    committed; write nothing there that should survive a veto). In an event hook it is the
    handler's own transaction, committed with the record that the event was handled.
    ``config`` is the tenant's validated configuration of this plugin (an instance of the
    plugin's ``PluginInfo.config`` Struct, secrets in clear), or ``None`` if it declares none.
    """

    plugin: str
    tenant_id: uuid.UUID
    actor: Actor
    session: AsyncSession
    config: Any
    #: In an event hook, the event's id: stable across retries, for deduplication.
    event_id: uuid.UUID | None = None
    #: Huike's settings (``public_url`` for links, ``webhook_allow_private_urls``...).
    settings: Settings = field(default_factory=Settings)
