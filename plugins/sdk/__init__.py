"""The plugin SDK: everything a plugin may import from Huike. The rest is internal.

A plugin is a module (or object) whose hook implementations carry :data:`hookimpl`::

    from plugins.sdk import HookContext, PluginInfo, hookimpl

    @hookimpl
    def plugin_info() -> PluginInfo:
        return PluginInfo(name="hello", title="Hello")

    @hookimpl
    async def before_customer_create(ctx: HookContext, customer: CustomerView) -> str | None:
        return "No customers on Sundays." if ctx.config.closed_on_sunday else None

The hooks and when each is called: :mod:`plugins.hookspecs` and docs/plugins/hooks.md.
"""

from __future__ import annotations

from plugins.sdk.context import Actor, HookContext
from plugins.sdk.info import SECRET, PluginInfo, hookimpl
from plugins.sdk.providers import ChatMessage, EmailMessage, SmsMessage, SmsResult, TaxLine, TaxQuote

__all__ = [
    "SECRET",
    "Actor",
    "ChatMessage",
    "EmailMessage",
    "HookContext",
    "PluginInfo",
    "SmsMessage",
    "SmsResult",
    "TaxLine",
    "TaxQuote",
    "hookimpl",
]
