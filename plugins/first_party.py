"""The plugins that ship with Huike. Each is available to every tenant; none is enabled
until a tenant's admin enables it."""

from __future__ import annotations

from plugins.smtp import plugin as smtp
from plugins.webhooks import plugin as webhooks

FIRST_PARTY: list[object] = [smtp, webhooks]
