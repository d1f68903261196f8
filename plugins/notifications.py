"""Domain events as short messages for people (a 企业微信 or 钉钉 group), in the tenant's
language (``zh-CN`` or ``en``), for the robots of :mod:`plugins.wecom` and
:mod:`plugins.dingtalk`.

Events carry ids, not names (the outbox holds no personal data). The caller — the plugin's
event handler, which has a session — looks the names up and passes them in ``names``, keyed
by role: ``customer``, ``contact``, ``lead``, ``opportunity``, ``owner``, ``to_owner``,
``from_stage``, ``to_stage``, ``survivor``, ``merged``. A name not given is shown as the
first eight characters of the id. Names are tenant data: characters that markdown would
read as formatting or links are replaced by look-alikes, so a customer called
``[click](https://evil.example)`` shows as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.mail.templates import normalize_locale

__all__ = ["EVENT_MESSAGES", "Notification", "render_event"]

#: ``event name`` → ((zh-CN title, zh-CN line), (en title, en line)); ``{role}`` slots.
EVENT_MESSAGES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "customers.created": (("新客户", "新客户：{customer}"), ("New customer", "New customer: {customer}")),
    "customers.updated": (
        ("客户资料更新", "客户资料已更新：{customer}"),
        ("Customer updated", "Customer updated: {customer}"),
    ),
    "customers.deleted": (
        ("客户已删除", "客户已删除：{customer}"),
        ("Customer deleted", "Customer deleted: {customer}"),
    ),
    "customers.transferred": (
        ("客户转交", "客户 {customer} 已转交给 {to_owner}"),
        ("Customer transferred", "Customer {customer} was transferred to {to_owner}"),
    ),
    "customers.returned_to_pool": (
        ("客户退回公海", "客户 {customer} 已退回公海"),
        ("Customer back in the pool", "Customer {customer} went back to the public pool"),
    ),
    "customers.claimed": (
        ("公海客户被领取", "{owner} 领取了公海客户 {customer}"),
        ("Customer claimed", "{owner} claimed {customer} from the public pool"),
    ),
    "customers.merged": (
        ("客户合并", "客户 {merged} 已合并到 {survivor}"),
        ("Customers merged", "{merged} was merged into {survivor}"),
    ),
    "customers.contact_created": (
        ("新联系人", "新联系人：{contact}（{customer}）"),
        ("New contact", "New contact: {contact} ({customer})"),
    ),
    "customers.contact_updated": (
        ("联系人更新", "联系人已更新：{contact}（{customer}）"),
        ("Contact updated", "Contact updated: {contact} ({customer})"),
    ),
    "leads.created": (("新线索", "新线索：{lead}"), ("New lead", "New lead: {lead}")),
    "leads.assigned": (
        ("线索分配", "线索 {lead} 已分配给 {to_owner}"),
        ("Lead assigned", "Lead {lead} was assigned to {to_owner}"),
    ),
    "leads.status_changed": (
        ("线索状态变更", "线索 {lead}：{from_status} → {to_status}"),
        ("Lead status changed", "Lead {lead}: {from_status} → {to_status}"),
    ),
    "leads.converted": (
        ("线索已转化", "线索 {lead} 已转化为客户 {customer}"),
        ("Lead converted", "Lead {lead} became customer {customer}"),
    ),
    "opportunities.created": (
        ("新商机", "新商机：{opportunity}（{customer}）"),
        ("New opportunity", "New opportunity: {opportunity} ({customer})"),
    ),
    "opportunities.stage_changed": (
        ("商机阶段变更", "商机 {opportunity}：{from_stage} → {to_stage}"),
        ("Opportunity stage changed", "Opportunity {opportunity}: {from_stage} → {to_stage}"),
    ),
    "opportunities.won": (
        ("赢单", "赢单：{opportunity}（{customer}），金额 {amount} {currency}"),
        ("Deal won", "Deal won: {opportunity} ({customer}), {amount} {currency}"),
    ),
    "opportunities.lost": (
        ("输单", "输单：{opportunity}（{customer}）"),
        ("Deal lost", "Deal lost: {opportunity} ({customer})"),
    ),
    "opportunities.reopened": (
        ("商机重新打开", "商机 {opportunity} 已重新打开"),
        ("Opportunity reopened", "Opportunity {opportunity} was reopened"),
    ),
    "opportunities.transferred": (
        ("商机转交", "商机 {opportunity} 已转交给 {to_owner}"),
        ("Opportunity transferred", "Opportunity {opportunity} was transferred to {to_owner}"),
    ),
}
_FALLBACK = (("Huike 通知", "事件：{event}"), ("Huike notification", "Event: {event}"))
#: The payload field that holds the id of each role's record.
_ID_FIELDS = {
    "customer": "customer_id",
    "contact": "contact_id",
    "lead": "lead_id",
    "opportunity": "opportunity_id",
    "owner": "owner_id",
    "to_owner": "to_owner_id",
    "from_stage": "from_stage_id",
    "to_stage": "to_stage_id",
    "survivor": "survivor_id",
    "merged": "merged_id",
}
_LEAD_STATUS_ZH = {
    "new": "新线索",
    "contacted": "已联系",
    "qualified": "合格",
    "unqualified": "不合格",
    "converted": "已转化",
}
_LOOK_ALIKES = str.maketrans(
    {
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "<": "‹",
        ">": "›",
        "*": "＊",
        "`": "'",
        "#": "＃",
        "_": "＿",
    }
)
_SLOT = re.compile(r"\{(\w+)\}")
MAX_NAME_CHARS = 60


@dataclass(frozen=True, slots=True)
class Notification:
    #: Short: a notification preview (DingTalk's ``title``).
    title: str
    #: The message as markdown (a heading, the line, the link).
    markdown: str
    #: The same as plain text (text messages, SMS-like channels).
    text: str


def _plain(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_NAME_CHARS else text[: MAX_NAME_CHARS - 1] + "…"


def _slot_value(slot: str, payload: Mapping[str, Any], names: Mapping[str, str], zh: bool) -> str:
    if names.get(slot):
        return _plain(names[slot])
    if slot in _ID_FIELDS and payload.get(_ID_FIELDS[slot]):
        return str(payload[_ID_FIELDS[slot]])[:8]
    value = payload.get(slot)
    if value is None or value == "":
        return "—"
    if zh and slot in {"from_status", "to_status"}:
        return _LEAD_STATUS_ZH.get(str(value), str(value))
    return _plain(value)


def render_event(
    event_name: str,
    payload: Mapping[str, Any],
    locale: str | None,
    *,
    names: Mapping[str, str] | None = None,
    link: str | None = None,
) -> Notification:
    """The message for event ``event_name`` with ``payload`` (its fields) in ``locale``
    (``zh``/``zh-CN``... → Chinese, anything else → English). ``link`` (a URL of the
    platform, to the record) is added as "查看 / View"; an unknown event gets a generic
    message naming it."""
    zh = normalize_locale(locale) == "zh-CN"
    (zh_title, zh_line), (en_title, en_line) = EVENT_MESSAGES.get(event_name, _FALLBACK)
    title, line = (zh_title, zh_line) if zh else (en_title, en_line)
    given = dict(names or {})

    def fill(markdown: bool) -> str:
        def value(match: re.Match[str]) -> str:
            slot = match.group(1)
            if slot == "event":
                return event_name.translate(_LOOK_ALIKES) if markdown else event_name
            text = _slot_value(slot, payload, given, zh)
            return f"**{text.translate(_LOOK_ALIKES)}**" if markdown else text

        return _SLOT.sub(value, line)

    text = fill(markdown=False)
    markdown = f"### {title}\n\n{fill(markdown=True)}"
    if link:
        markdown += f"\n\n[{'查看' if zh else 'View'}]({link})"
        text += f"\n{link}"
    return Notification(title=title, markdown=markdown, text=text)
