"""The ``dingtalk`` plugin: a 钉钉 custom robot (加签: timestamp + HMAC-SHA256) hears about
the events the admin chose, in the business's language, and is the business's
``notify_chat`` provider."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from plugins.chat import DEFAULT_EVENTS, check_robot_url, notification_for, wants
from plugins.dingtalk.client import DingTalkRobot
from plugins.sdk import SECRET, ChatMessage, HookContext, PluginInfo, hookimpl
from plugins.sdk.events import DomainEvent

__all__ = ["DingTalkConfig"]

OFFICIAL_HOST = "oapi.dingtalk.com"


class DingTalkConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    #: The robot's webhook URL (``https://oapi.dingtalk.com/robot/send?access_token=…``).
    webhook_url: Annotated[str, SECRET, msgspec.Meta(pattern=r"[?&]access_token=")]
    #: The 加签 secret (``SEC…``) from the robot's security settings.
    secret: Annotated[str, SECRET, msgspec.Meta(min_length=8)]
    #: Event names or ``domain.*`` patterns (``["*"]`` for all).
    events: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_EVENTS))
    language: Literal["zh-CN", "en"] = "zh-CN"


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name="dingtalk",
        title="DingTalk group robot",
        title_zh="钉钉群机器人",
        description="Post chosen events to a 钉钉 group, signed, in the business's language.",
        version="1",
        config=DingTalkConfig,
        first_party=True,
    )


async def _robot(ctx: HookContext) -> DingTalkRobot:
    config: DingTalkConfig = ctx.config
    await check_robot_url(ctx, config.webhook_url, OFFICIAL_HOST)
    return DingTalkRobot.from_webhook_url(config.webhook_url, config.secret)


@hookimpl
async def on_event(ctx: HookContext, event: DomainEvent) -> None:
    config: DingTalkConfig = ctx.config
    if wants(config.events, event):
        message = await notification_for(ctx, event, config.language)
        await (await _robot(ctx)).send_markdown(message.title, message.markdown)


@hookimpl
async def notify_chat(ctx: HookContext, message: ChatMessage) -> bool:
    await (await _robot(ctx)).send_markdown(message.title, f"### {message.title}\n{message.text}")
    return True
