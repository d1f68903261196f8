"""The ``sms`` plugin as the business's ``send_sms`` provider: a purpose with a template goes
to the gateway (a local server checking Aliyun's signature); without one, or for a business
that did not enable it, no provider answers."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from frontend_api.app import create_app
from frontend_api.services import Services
from plugins.dispatch import TenantDispatch
from plugins.sdk import SmsMessage, SmsResult
from tests.helpers import signup
from tests.http_server import running
from tests.plugins import test_sms

ENABLE = "/api/v1/tenant/plugins/sms/enable"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Litestar]]:
    allowed = dataclasses.replace(settings, webhook_allow_private_urls=True)
    with TestClient(create_app(allowed), raise_server_exceptions=False) as test_client:
        yield test_client


def _provide(client: TestClient[Litestar], tenant_id: str, message: SmsMessage) -> Any:
    services: Services = client.app.state.services

    async def run() -> Any:
        with tenant_context(uuid.UUID(tenant_id)):
            async with services.db.transaction() as session:
                dispatch = await TenantDispatch.open(services.plugins, session)
                return await dispatch.first_result("send_sms", message=message)

    return client.blocking_portal.call(run)


def test_a_reminder_text_goes_out_through_the_businesss_aliyun_account(client: TestClient[Litestar]) -> None:
    gateway = test_sms.Gateway()
    with running(gateway) as server:
        acme, other = signup(client, "Acme"), signup(client, "Other")
        config = {
            "access_key_id": test_sms.KEY_ID,
            "access_key_secret": test_sms.KEY_SECRET,
            "sign_name": test_sms.SIGN_NAME,
            "templates": {"activity.reminder": "SMS_465001"},
            "endpoint": server.url(""),
        }
        enabled = client.post(
            "/api/v1/tenant/plugins/sms/enable", headers=acme["headers"], json={"config": config}
        )
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["config"]["access_key_secret"] == "********"
        reminder = SmsMessage(
            phone="13800138000", template="activity.reminder", params={"name": "张三", "time": "15:00"}
        )
        result = _provide(client, acme["tenant_id"], reminder)
        assert isinstance(result, SmsResult)
        assert result.provider == "sms"
        assert [(s["PhoneNumbers"], s["TemplateCode"], s["SignName"]) for s in gateway.sent] == [
            ("13800138000", "SMS_465001", test_sms.SIGN_NAME)
        ]
        # A purpose without a template, and a business without the plugin: nobody answers.
        assert _provide(client, acme["tenant_id"], SmsMessage(phone="13800138000", template="other")) is None
        assert _provide(client, other["tenant_id"], reminder) is None
        assert len(gateway.sent) == 1


def test_a_template_code_that_is_not_aliyuns_is_refused(client: TestClient[Litestar]) -> None:
    acme = signup(client, "Acme")
    config = {
        "access_key_id": test_sms.KEY_ID,
        "access_key_secret": test_sms.KEY_SECRET,
        "sign_name": test_sms.SIGN_NAME,
        "templates": {"activity.reminder": "reminder-1"},
    }
    refused = client.post(
        "/api/v1/tenant/plugins/sms/enable", headers=acme["headers"], json={"config": config}
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "config.templates[...]"
    assert "SMS_" in refused.json()["errors"][0]["reason"]
