"""The ``wecom`` plugin: a 企业微信 group robot hears about the events the admin chose, in
the business's language, and is the business's ``notify_chat`` provider."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from plugins.chat import DEFAULT_EVENTS, check_robot_url, notification_for, wants
from plugins.sdk import SECRET, ChatMessage, HookContext, PluginInfo, hookimpl
from plugins.sdk.events import DomainEvent
from plugins.wecom.client import WeComRobot

__all__ = ["WeComConfig"]

OFFICIAL_HOST = "qyapi.weixin.qq.com"


class WeComConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    #: The robot's webhook URL (``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…``);
    #: the key in it is the robot's only credential.
    webhook_url: Annotated[str, SECRET, msgspec.Meta(pattern=r"[?&]key=")]
    #: Event names or ``domain.*`` patterns (``["*"]`` for all).
    events: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_EVENTS))
    language: Literal["zh-CN", "en"] = "zh-CN"


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name="wecom",
        title="WeCom group robot",
        title_zh="企业微信群机器人",
        description="Post chosen events to a 企业微信 group, in the business's language.",
        version="1",
        config=WeComConfig,
        first_party=True,
    )


async def _robot(ctx: HookContext) -> WeComRobot:
    config: WeComConfig = ctx.config
    await check_robot_url(ctx, config.webhook_url, OFFICIAL_HOST)
    return WeComRobot.from_webhook_url(config.webhook_url)


@hookimpl
async def on_event(ctx: HookContext, event: DomainEvent) -> None:
    config: WeComConfig = ctx.config
    if wants(config.events, event):
        message = await notification_for(ctx, event, config.language)
        await (await _robot(ctx)).send_markdown(message.markdown)


@hookimpl
async def notify_chat(ctx: HookContext, message: ChatMessage) -> bool:
    await (await _robot(ctx)).send_markdown(f"**{message.title}**\n{message.text}")
    return True
