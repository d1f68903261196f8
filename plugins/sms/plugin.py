"""The ``sms`` plugin: the business's ``send_sms`` provider through Aliyun's SMS gateway
(``SendSms``), with the business's own AccessKey, signature and approved templates."""

from __future__ import annotations

from typing import Annotated

import msgspec

from plugins.chat import check_robot_url
from plugins.sdk import SECRET, HookContext, PluginInfo, SmsMessage, SmsResult, hookimpl
from plugins.sms.client import DEFAULT_BASE_URL, AliyunSms, aliyun_number

__all__ = ["SmsConfig"]

OFFICIAL_HOST = "dysmsapi.aliyuncs.com"


class SmsConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    access_key_id: Annotated[str, msgspec.Meta(min_length=8, max_length=64)]
    #: The AccessKey's secret (a RAM user allowed only ``dysms:SendSms``).
    access_key_secret: Annotated[str, SECRET, msgspec.Meta(min_length=8)]
    #: The approved signature (签名), shown in 【】 before every message.
    sign_name: Annotated[str, msgspec.Meta(min_length=2, max_length=12)]
    #: Huike's message purposes (``activity.reminder``) to approved template codes
    #: (``SMS_465001``); a purpose without a template is left to other providers.
    templates: dict[str, Annotated[str, msgspec.Meta(pattern=r"^SMS_\d+$")]] = {}
    endpoint: str = DEFAULT_BASE_URL


@hookimpl
def plugin_info() -> PluginInfo:
    return PluginInfo(
        name="sms",
        title="SMS (Aliyun)",
        title_zh="短信（阿里云）",
        description="Send this business's text messages through its own Aliyun SMS account.",
        version="1",
        config=SmsConfig,
        first_party=True,
    )


@hookimpl
async def send_sms(ctx: HookContext, message: SmsMessage) -> SmsResult | None:
    config: SmsConfig = ctx.config
    template = config.templates.get(message.template)
    if template is None:
        return None
    await check_robot_url(ctx, config.endpoint, OFFICIAL_HOST)
    gateway = AliyunSms(
        config.access_key_id, config.access_key_secret, config.sign_name, base_url=config.endpoint
    )
    sent = await gateway.send(aliyun_number(message.phone), template, message.params)
    return SmsResult(provider="sms", message_id=sent.biz_id)
