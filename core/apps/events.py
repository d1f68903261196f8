"""Domain events of the apps package, recorded in the installing tenant's outbox. The
webhook delivery engine can hand ``apps.installed`` to the app itself: it names the tenant
and installation the app will ask tokens for."""

from __future__ import annotations

import uuid
from typing import ClassVar

from core.events.schemas import DomainEvent

__all__ = ["AppInstalled", "AppUninstalled"]


class AppInstalled(DomainEvent, frozen=True, kw_only=True):
    """Also recorded when an admin consents again with other scopes."""

    name: ClassVar[str] = "apps.installed"
    version: ClassVar[int] = 1
    app_id: uuid.UUID
    installation_id: uuid.UUID
    scopes: list[str]


class AppUninstalled(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "apps.uninstalled"
    version: ClassVar[int] = 1
    app_id: uuid.UUID
    installation_id: uuid.UUID
