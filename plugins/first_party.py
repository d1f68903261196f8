"""The plugins that ship with Huike. Each is available to every tenant; none is enabled
until a tenant's admin enables it."""

from __future__ import annotations

from plugins.dingtalk import plugin as dingtalk
from plugins.sms import plugin as sms
from plugins.smtp import plugin as smtp
from plugins.webhooks import plugin as webhooks
from plugins.wecom import plugin as wecom

FIRST_PARTY: list[object] = [smtp, webhooks, wecom, dingtalk, sms]
