"""The ``smtp`` plugin: a business's mail leaves through its own SMTP server (aiosmtpd here),
from its own address; other businesses' mail still goes through the platform's mailer."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from core.kernel.settings import Settings
from frontend_api.app import create_app
from tests.core.mail import test_smtp as mail_tests
from tests.core.mail.test_smtp import Inbox, _free_port
from tests.frontend_api.test_customers import _raw
from tests.frontend_api.test_invitations import _invite
from tests.helpers import signup, unique_email

SMTP = "/api/v1/tenant/plugins/smtp"
inbox = mail_tests.inbox


@pytest.fixture
def jobs_client(settings: Settings) -> Iterator[TestClient[Litestar]]:
    app = create_app(dataclasses.replace(settings, background_jobs=True))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _config(port: int, **extra: Any) -> dict[str, Any]:
    config = {
        "sender": "Acme Sales <sales@acme.example>",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "password": "smtp-password-123",
    }
    return {**config, **extra}


def test_the_tenants_mail_goes_through_its_own_server_and_others_through_the_platform(
    jobs_client: TestClient[Litestar], inbox: tuple[Inbox, int]
) -> None:
    handler, port = inbox
    acme, other = signup(jobs_client, "Acme"), signup(jobs_client, "Other")
    enabled = jobs_client.post(f"{SMTP}/enable", headers=acme["headers"], json={"config": _config(port)})
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["config"]["password"] == "********"
    mine, theirs = unique_email("invitee"), unique_email("invitee")
    assert _invite(jobs_client, acme, mine).status_code == 201
    assert _invite(jobs_client, other, theirs).status_code == 201
    jobs_client.blocking_portal.call(jobs_client.app.state.jobs.drain)
    assert [m["To"] for m in handler.messages] == [mine]
    assert handler.messages[0]["From"] == "Acme Sales <sales@acme.example>"
    assert [m.to for m in jobs_client.app.state.services.mailer.outbox] == [theirs]


def test_a_bad_smtp_configuration_is_refused_naming_the_field(client: TestClient[Any]) -> None:
    owner = signup(client)
    for change, field in (
        ({"security": "tls13"}, "config.security"),
        ({"port": 70000}, "config.port"),
        ({"sender": "nobody"}, "config.sender"),
    ):
        refused = client.post(
            f"{SMTP}/enable", headers=owner["headers"], json={"config": {**_config(25), **change}}
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == field


def test_a_failing_tenant_server_fails_the_mail_job_instead_of_using_the_platforms(
    settings: Settings,
) -> None:
    fast = dataclasses.replace(
        settings, background_jobs=True, job_max_retries=1, job_min_backoff_ms=1, job_max_backoff_ms=5
    )
    app = create_app(fast)
    with TestClient(app, raise_server_exceptions=False) as client:
        acme = signup(client, "Acme")
        closed = _free_port()  # nothing listens there
        body = {"config": _config(closed, timeout_seconds=2)}
        assert client.post(f"{SMTP}/enable", headers=acme["headers"], json=body).status_code == 200
        assert _invite(client, acme, unique_email("invitee")).status_code == 201
        client.blocking_portal.call(client.app.state.jobs.drain)
        assert client.app.state.services.mailer.outbox == []
    letters = _raw(settings, "SELECT actor FROM dead_letters")
    assert letters == [("job:mail.send",)]
