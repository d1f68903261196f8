"""Domain events of the apps package, recorded in the installing tenant's outbox.

They are the app's own lifecycle (:data:`LIFECYCLE_EVENTS`): an app may choose them for its
webhook whatever its scopes, and each reaches only the app it names — never another app
installed in the same business. ``apps.installed`` names the tenant and installation the app
will ask tokens for; ``apps.uninstalled`` is the last delivery an installation gets."""

from __future__ import annotations

import uuid
from typing import ClassVar

from core.events.schemas import DomainEvent

__all__ = ["LIFECYCLE_EVENTS", "AppInstalled", "AppUninstalled"]


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


#: Events about an installation itself, delivered to that installation's app alone.
LIFECYCLE_EVENTS: frozenset[str] = frozenset({AppInstalled.name, AppUninstalled.name})
