"""The ``wecom`` and ``dingtalk`` plugins: a business's chosen events reach its group robot
(a local server speaking and checking each protocol) in the business's language, with the
records' names; another business's events do not; a robot URL off the official host is
refused unless the operator allows private addresses."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from core.kernel.settings import Settings
from frontend_api.app import create_app
from tests.frontend_api.test_customers import _raw
from tests.helpers import signup
from tests.http_server import running
from tests.plugins import test_dingtalk, test_wecom


def _client(settings: Settings, **overrides: Any) -> TestClient[Litestar]:
    fast = dataclasses.replace(
        settings,
        background_jobs=True,
        job_max_retries=1,
        job_min_backoff_ms=1,
        job_max_backoff_ms=5,
        **overrides,
    )
    return TestClient(create_app(fast), raise_server_exceptions=False)


@pytest.fixture
def jobs_client(settings: Settings) -> Iterator[TestClient[Litestar]]:
    with _client(settings, webhook_allow_private_urls=True) as client:
        yield client


def _drain(client: TestClient[Litestar]) -> None:
    client.blocking_portal.call(client.app.state.jobs.drain)


def _enable(client: TestClient[Any], headers: dict[str, str], name: str, config: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/tenant/plugins/{name}/enable", headers=headers, json={"config": config})


def _customer(client: TestClient[Any], headers: dict[str, str], name: str) -> None:
    created = client.post("/api/v1/customers", headers=headers, json={"kind": "company", "name": name})
    assert created.status_code == 201, created.text


def test_a_dingtalk_group_hears_of_new_customers_in_chinese_signed(jobs_client: TestClient[Litestar]) -> None:
    client = jobs_client
    with running(test_dingtalk.dingtalk) as robot:
        acme, other = signup(client, "Acme"), signup(client, "Other")
        url = robot.url(f"/robot/send?access_token={test_dingtalk.TOKEN}")
        enabled = _enable(
            client, acme["headers"], "dingtalk", {"webhook_url": url, "secret": test_dingtalk.SECRET}
        )
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["config"]["secret"] == "********"
        _customer(client, acme["headers"], "华为技术")
        _customer(client, other["headers"], "Initech")
        _drain(client)
        [sent] = robot.requests_to("/robot/send")
        message = msgspec.json.decode(sent.body)
        assert message["markdown"]["title"] == "新客户"
        assert "华为技术" in message["markdown"]["text"]
    assert "Initech" not in str([r.body for r in robot.received])


def test_a_wecom_group_hears_only_the_chosen_events_in_english(jobs_client: TestClient[Litestar]) -> None:
    client = jobs_client
    with running(test_wecom.wecom) as robot:
        acme = signup(client, "Acme")
        url = robot.url(f"/cgi-bin/webhook/send?key={test_wecom.KEY}")
        config = {"webhook_url": url, "events": ["customers.created"], "language": "en"}
        assert _enable(client, acme["headers"], "wecom", config).status_code == 200
        _customer(client, acme["headers"], "Globex")
        lead = client.post("/api/v1/leads", headers=acme["headers"], json={"name": "Walk-in"})
        assert lead.status_code == 201, lead.text
        _drain(client)
        sent = [msgspec.json.decode(r.body) for r in robot.requests_to("/cgi-bin/webhook/send")]
        assert [m["markdown"]["content"] for m in sent] == ["### New customer\n\nNew customer: **Globex**"]


def test_a_robot_off_the_official_host_is_refused_in_production(settings: Settings) -> None:
    with running(test_wecom.wecom) as robot, _client(settings) as client:
        acme = signup(client, "Acme")
        url = robot.url(f"/cgi-bin/webhook/send?key={test_wecom.KEY}")
        assert _enable(client, acme["headers"], "wecom", {"webhook_url": url}).status_code == 200
        _customer(client, acme["headers"], "Globex")
        _drain(client)
        assert robot.received == []
    [(actor, error)] = _raw(settings, "SELECT actor, error FROM dead_letters")
    assert actor == "handler:plugin.wecom.customers.created"
    assert "qyapi.weixin.qq.com" in error
