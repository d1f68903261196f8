"""Domain events rendered for a group chat, in the tenant's language."""

from __future__ import annotations

import uuid

import msgspec
import pytest

from core.customers import events as customer_events
from core.events.schemas import DomainEvent
from core.leads import events as lead_events
from core.sales import events as sales_events
from plugins.notifications import EVENT_MESSAGES, render_event


def _event_types() -> list[type[DomainEvent]]:
    modules = (customer_events, lead_events, sales_events)
    return [getattr(m, name) for m in modules for name in m.__all__]


def test_every_customer_lead_and_opportunity_event_has_a_message_in_both_languages() -> None:
    names = {event.name for event in _event_types()}

    assert names <= set(EVENT_MESSAGES)
    for (zh_title, zh_line), (en_title, en_line) in EVENT_MESSAGES.values():
        assert all([zh_title, zh_line, en_title, en_line])


def test_a_new_customer_reads_naturally_in_chinese_and_english() -> None:
    payload = {"customer_id": str(uuid.uuid4()), "owner_id": str(uuid.uuid4())}

    zh = render_event("customers.created", payload, "zh-CN", names={"customer": "华为技术"})
    en = render_event(
        "customers.created",
        payload,
        "en-US",
        names={"customer": "Huawei"},
        link="https://app.example.com/c/1",
    )

    assert (zh.title, zh.text) == ("新客户", "新客户：华为技术")
    assert zh.markdown == "### 新客户\n\n新客户：**华为技术**"
    assert en.text == "New customer: Huawei\nhttps://app.example.com/c/1"
    assert en.markdown.endswith("[View](https://app.example.com/c/1)")


def test_a_won_deal_shows_its_amount_and_the_names_given() -> None:
    event = sales_events.OpportunityWon(
        opportunity_id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        amount="120000.00",
        currency="CNY",
    )
    payload = msgspec.to_builtins(event)

    zh = render_event(event.name, payload, "zh", names={"opportunity": "年度框架合同", "customer": "华为"})
    en = render_event(event.name, payload, "en", names={"opportunity": "Annual contract"})

    assert zh.text == "赢单：年度框架合同（华为），金额 120000.00 CNY"
    assert en.text == f"Deal won: Annual contract ({str(event.customer_id)[:8]}), 120000.00 CNY"


def test_a_lead_status_change_uses_the_status_names_of_the_language() -> None:
    payload = {"lead_id": str(uuid.uuid4()), "from_status": "new", "to_status": "qualified"}

    assert (
        render_event("leads.status_changed", payload, "zh-CN", names={"lead": "张三"}).text
        == "线索 张三：新线索 → 合格"
    )
    assert (
        render_event("leads.status_changed", payload, "en", names={"lead": "Zhang"}).text
        == "Lead Zhang: new → qualified"
    )


def test_an_unknown_event_gets_a_generic_message_naming_it() -> None:
    zh = render_event("orders.confirmed", {"order_id": "1"}, "zh-CN")
    en = render_event("orders.confirmed", {}, None)

    assert (zh.title, zh.text) == ("Huike 通知", "事件：orders.confirmed")
    assert (en.title, en.text) == ("Huike notification", "Event: orders.confirmed")


@pytest.mark.parametrize(
    "name", ["[点我](https://evil.example)", "<font color='warning'>紧急</font>", "**粗** `代码`"]
)
def test_a_name_cannot_inject_links_or_formatting_into_the_markdown(name: str) -> None:
    message = render_event("customers.created", {}, "zh-CN", names={"customer": name})

    body = message.markdown.split("\n\n", 1)[1]
    inner = body.removeprefix("新客户：**").removesuffix("**")
    assert not any(ch in inner for ch in "[]()<>*`")
    assert "](" not in body
    assert message.text == f"新客户：{name}"
