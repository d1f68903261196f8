"""Endpoints: what URL and events may be saved (the SSRF guard), the secret shown once and
encrypted at rest, owners and tenants kept apart."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from sqlalchemy import select, text

from core.kernel.database import Database
from core.kernel.errors import Invalid, NotFound
from core.kernel.pagination import PageRequest
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.webhooks import service
from core.webhooks.models import WebhookEndpoint
from core.webhooks.schemas import TENANT, EndpointCreate, EndpointUpdate, Owner
from core.webhooks.urls import check_endpoint_url
from tests.core.crypto.factories import Shop, new_shop
from tests.core.webhooks.conftest import add_endpoint, emit

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://hooks.example.com/in", "insecure_url"),
        ("https://127.0.0.1/in", "private_address"),
        ("https://[::1]/in", "private_address"),
        ("https://[::ffff:10.0.0.1]/in", "private_address"),
        ("https://10.1.2.3/in", "private_address"),
        ("https://192.168.0.10/in", "private_address"),
        ("https://169.254.169.254/latest/meta-data", "private_address"),
        ("https://100.64.0.1/in", "private_address"),
        ("https://localhost/in", "private_address"),
        ("https://api.localhost/in", "private_address"),
        ("https://redis:6379/", "private_address"),
        ("https://user:pw@hooks.example.com/in", "invalid_url"),
        ("ftp://hooks.example.com/in", "invalid_url"),
        ("hooks.example.com/in", "invalid_url"),
        ("https://hooks.example.com:99999/in", "invalid_url"),
    ],
)
def test_a_url_webhooks_may_not_reach_is_refused_in_production(url: str, code: str) -> None:
    with pytest.raises(Invalid) as refused:
        check_endpoint_url(url, allow_private=False)

    assert refused.value.code == code
    assert refused.value.errors[0].field == "url"


def test_a_public_https_url_is_accepted() -> None:
    assert check_endpoint_url(" https://hooks.example.com/in?x=1 ", allow_private=False) == (
        "https://hooks.example.com/in?x=1"
    )
    assert check_endpoint_url("https://8.8.8.8/in", allow_private=False) == "https://8.8.8.8/in"


def test_with_private_urls_allowed_plain_http_goes_to_loopback_only() -> None:
    assert check_endpoint_url("http://127.0.0.1:8080/in", allow_private=True)
    assert check_endpoint_url("http://localhost:8080/in", allow_private=True)
    assert check_endpoint_url("https://10.0.0.5/in", allow_private=True)
    with pytest.raises(Invalid) as refused:
        check_endpoint_url("http://hooks.example.com/in", allow_private=True)
    assert refused.value.code == "insecure_url"


async def test_the_secret_is_shown_once_and_stored_encrypted(db: Database, settings: Settings) -> None:
    shop = await new_shop(db)
    created = await add_endpoint(db, settings, shop.tenant_id, "https://hooks.example.com/in")
    await emit(db, shop.tenant_id, payload={"note": "Ms Wang, 13800000000"})

    assert created.secret.startswith("whsec_")
    assert len(created.secret) > 40
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            view = await service.get_endpoint(session, created.id)
            stored = (
                await session.execute(
                    text(
                        "SELECT e.secret, d.body FROM webhook_endpoints e"
                        " JOIN webhook_deliveries d ON d.endpoint_id = e.id"
                    )
                )
            ).one()
    assert not hasattr(view, "secret")
    assert created.secret.encode() not in bytes(stored.secret)
    assert b"13800000000" not in bytes(stored.body)


async def test_events_are_checked_and_cleaned(db: Database, settings: Settings) -> None:
    shop = await new_shop(db)
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            created = await service.create_endpoint(
                session,
                settings,
                EndpointCreate(
                    url="https://hooks.example.com/in",
                    events=[" customers.created", "customers.created", "leads.*"],
                ),
                known_events={"customers.created", "leads.created"},
            )
            everything = await service.create_endpoint(
                session,
                settings,
                EndpointCreate(url="https://hooks.example.com/all", events=["leads.*", "*"]),
            )
            with pytest.raises(Invalid) as malformed:
                await service.create_endpoint(
                    session,
                    settings,
                    EndpointCreate(url="https://hooks.example.com/in", events=["Customers Created"]),
                )
            with pytest.raises(Invalid) as unknown:
                await service.update_endpoint(
                    session,
                    settings,
                    created.id,
                    EndpointUpdate(events=["customers.created", "orders.*"]),
                    known_events={"customers.created"},
                )

    assert created.events == ["customers.created", "leads.*"]
    assert everything.events == ["*"]
    assert (malformed.value.code, malformed.value.errors[0].field) == ("invalid_events", "events[0]")
    assert unknown.value.errors[0].field == "events[1]"


async def test_another_tenants_endpoints_and_deliveries_are_not_found(
    db: Database, settings: Settings
) -> None:
    a = await new_shop(db, "A")
    b = await new_shop(db, "B")
    endpoint = await add_endpoint(db, settings, a.tenant_id, "https://hooks.example.com/a")
    _, [delivery_id] = await emit(db, a.tenant_id)

    with tenant_context(b.tenant_id):
        async with db.transaction() as session:
            assert (await service.list_endpoints(session, PageRequest())).items == []
            assert (await service.list_deliveries(session, PageRequest(), owner=None)).items == []
            for call in (
                service.get_endpoint(session, endpoint.id),
                service.update_endpoint(session, settings, endpoint.id, EndpointUpdate(enabled=False)),
                service.rotate_secret(session, endpoint.id),
                service.delete_endpoint(session, endpoint.id),
                service.ping_endpoint(session, endpoint.id),
                service.get_delivery(session, delivery_id, owner=None),
                service.replay_delivery(session, delivery_id, owner=None),
            ):
                with pytest.raises(NotFound):
                    await call
            assert await service.enqueue_deliveries(session, "customers.created", uuid.uuid4(), {}) == []
    with tenant_context(a.tenant_id):
        async with db.transaction() as session:
            assert [e.id for e in (await service.list_endpoints(session, PageRequest())).items] == [
                endpoint.id
            ]
            assert (await service.get_endpoint(session, endpoint.id)).enabled


@pytest.mark.postgres
async def test_row_level_security_hides_another_tenants_webhook_rows_from_raw_sql(
    db: Database, settings: Settings
) -> None:
    a = await new_shop(db, "A")
    b = await new_shop(db, "B")
    await add_endpoint(db, dataclasses.replace(settings), a.tenant_id, "https://hooks.example.com/a")
    await emit(db, a.tenant_id)
    counts = "SELECT (SELECT count(*) FROM webhook_endpoints), (SELECT count(*) FROM webhook_deliveries)"

    with tenant_context(b.tenant_id):
        async with db.transaction() as session:
            assert tuple((await session.execute(text(counts))).one()) == (0, 0)
            updated = await session.execute(text("UPDATE webhook_endpoints SET enabled = false"))
            assert updated.rowcount == 0  # type: ignore[attr-defined]
    with tenant_context(a.tenant_id):
        async with db.transaction() as session:
            assert tuple((await session.execute(text(counts))).one()) == (1, 1)


async def test_an_apps_endpoints_are_apart_from_the_tenants_own(db: Database, settings: Settings) -> None:
    shop: Shop = await new_shop(db)
    installation = uuid.uuid4()
    app = Owner.app(installation)
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            own = await service.create_endpoint(
                session, settings, EndpointCreate(url="https://a.example.com/", events=["*"])
            )
            apps = await service.create_endpoint(
                session, settings, EndpointCreate(url="https://b.example.com/", events=["*"]), owner=app
            )
            to_app = await service.enqueue_deliveries(
                session, "customers.created", uuid.uuid4(), {}, owner=app
            )
            to_all = await service.enqueue_deliveries(session, "customers.created", uuid.uuid4(), {})
            with pytest.raises(NotFound):
                await service.get_endpoint(session, apps.id)  # not the tenant's own
            with pytest.raises(NotFound):
                await service.get_endpoint(session, own.id, owner=app)
            tenant_list = await service.list_endpoints(session, PageRequest(), owner=TENANT)
            app_log = await service.list_deliveries(session, PageRequest(), owner=app)

    assert [e.id for e in tenant_list.items] == [own.id]
    assert (apps.owner_kind, apps.owner_ref) == ("app", installation)
    assert len(to_app) == 1
    assert len(to_all) == 2
    assert {d.endpoint_id for d in app_log.items} == {apps.id}
    assert len(app_log.items) == 2


async def test_the_delivery_log_filters_by_status_and_event(db: Database, settings: Settings) -> None:
    from core.webhooks.schemas import DeliveryFilter

    shop = await new_shop(db)
    endpoint = await add_endpoint(db, settings, shop.tenant_id, "https://hooks.example.com/in")
    await emit(db, shop.tenant_id, "customers.created")
    won_id, _ = await emit(db, shop.tenant_id, "opportunities.won")
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            by_event = await service.list_deliveries(
                session, PageRequest(), DeliveryFilter(event_name="opportunities.won")
            )
            by_id = await service.list_deliveries(session, PageRequest(), DeliveryFilter(event_id=won_id))
            pending = await service.list_deliveries(
                session, PageRequest(sort="-id"), DeliveryFilter(status="pending", endpoint_id=endpoint.id)
            )
            with pytest.raises(Invalid) as bad_status:
                await service.list_deliveries(session, PageRequest(), DeliveryFilter(status="lost"))

    assert [d.event_name for d in by_event.items] == ["opportunities.won"]
    assert [d.event_id for d in by_id.items] == [won_id]
    assert [d.event_name for d in pending.items] == ["opportunities.won", "customers.created"]
    assert bad_status.value.errors[0].field == "status"


async def test_secrets_and_bodies_survive_a_rotation_of_the_tenants_data_key(
    db: Database, settings: Settings
) -> None:
    from core.crypto.service import rotate_tenant

    shop = await new_shop(db)
    created = await add_endpoint(db, settings, shop.tenant_id, "https://hooks.example.com/in")
    _, [delivery_id] = await emit(db, shop.tenant_id, payload={"n": 1})

    await rotate_tenant(db, shop.tenant_id, batch_size=1)

    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            endpoint = await session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == created.id))
            detail = await service.get_delivery(session, delivery_id)
    assert endpoint is not None
    assert endpoint.secret == created.secret
    assert detail.payload["data"] == {"n": 1}


def test_an_owner_is_the_tenant_without_a_ref_or_an_app_with_one() -> None:
    with pytest.raises(ValueError, match="owner"):
        Owner(kind="app")
    with pytest.raises(ValueError, match="owner"):
        Owner(kind="tenant", ref=uuid.uuid4())
    with pytest.raises(ValueError, match="owner kind"):
        Owner(kind="plugin", ref=uuid.uuid4())
    assert Owner.app(uuid.UUID(int=1)).kind == "app"
