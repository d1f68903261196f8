"""Apps: registered by a developer tenant (``/api/v1/apps``), installed by other tenants'
admins through the consent screen (``/oauth/authorize``), listed and uninstalled by them
(``/api/v1/app-installations``). The thin HTTP adapter over ``core/apps``."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from core.apps import installations, service
from core.apps import status as app_status
from core.apps.developer_deliveries import in_installing_business
from core.apps.permissions import DEVELOP, INSTALL
from core.apps.schemas import (
    AppCreate,
    AppCreated,
    AppUpdate,
    AppView,
    InstallationView,
    InstallerView,
    ScopeView,
    SecretRotated,
    WebhookSecretRotated,
    WebhookSecretRotation,
)
from core.apps.webhooks import installation_owner
from core.kernel.pagination import Page
from core.webhooks import service as webhooks
from core.webhooks.schemas import DeliveryDetail, DeliveryFilter, DeliveryView
from frontend_api.deps import PageDep, PrincipalDep, ServicesDep, SessionDep
from frontend_api.etags import IfMatchDep, etagged

__all__ = ["AppController", "AppInstallationController"]


class AppController(Controller):
    path = "/api/v1/apps"
    tags = ["apps"]

    @get("/scopes", permission=DEVELOP, summary="The scopes an app can ask for, and their permissions")
    async def scopes(self, services: ServicesDep) -> list[ScopeView]:
        return services.scopes.describe(s.name for s in services.scopes)

    @post(
        "/",
        permission=DEVELOP,
        idempotency=False,  # the answer holds the client secret, which is never stored in clear
        status_code=201,
        summary="Register an app; the answer holds its client secret, shown this once only",
    )
    async def create(
        self, session: SessionDep, services: ServicesDep, principal: PrincipalDep, data: JSONBody[AppCreate]
    ) -> AppCreated:
        return await service.create_app(
            session, services.settings, services.scopes, services.app_events, principal, data
        )

    @get("/", permission=DEVELOP, summary="List the apps this business registered")
    async def list_apps(self, session: SessionDep, page: PageDep) -> Page[AppView]:
        return await service.list_apps(session, page)

    @get("/{app_id:uuid}", permission=DEVELOP, summary="Show an app (never its secret)")
    async def show(self, session: SessionDep, app_id: FromPath[uuid.UUID]) -> Response[AppView]:
        return etagged(await service.get_app(session, app_id))

    @get(
        "/{app_id:uuid}/installations",
        permission=DEVELOP,
        summary="The businesses that installed the app: their names, since when, the scopes in effect",
    )
    async def list_installers(
        self, session: SessionDep, services: ServicesDep, page: PageDep, app_id: FromPath[uuid.UUID]
    ) -> Page[InstallerView]:
        return await service.list_installers(session, services.scopes, app_id, page)

    @patch("/{app_id:uuid}", permission=DEVELOP, summary="Change an app's name, URIs, scopes or webhook")
    async def update(
        self,
        session: SessionDep,
        services: ServicesDep,
        app_id: FromPath[uuid.UUID],
        data: JSONBody[AppUpdate],
        if_match: IfMatchDep,
    ) -> Response[AppView]:
        return etagged(
            await service.update_app(
                session,
                services.settings,
                services.scopes,
                services.app_events,
                app_id,
                data,
                expected_version=if_match.version(),
            )
        )

    @delete(
        "/{app_id:uuid}",
        permission=DEVELOP,
        summary="Delete an app: it stops at once and is uninstalled from every business",
    )
    async def delete_app(
        self, session: SessionDep, app_id: FromPath[uuid.UUID], if_match: IfMatchDep
    ) -> None:
        await app_status.delete_app(session, app_id, expected_version=if_match.version())

    @post(
        "/{app_id:uuid}/rotate-secret",
        permission=DEVELOP,
        idempotency=False,
        status_code=200,
        summary="Give the app a new client secret (shown once; the old one stops working)",
    )
    async def rotate_secret(
        self, session: SessionDep, app_id: FromPath[uuid.UUID], if_match: IfMatchDep
    ) -> SecretRotated:
        return await service.rotate_secret(session, app_id, expected_version=if_match.version())

    @post(
        "/{app_id:uuid}/rotate-webhook-secret",
        permission=DEVELOP,
        idempotency=False,
        status_code=200,
        summary="Give the app a new webhook signing secret (shown once; the old one may sign "
        "beside it for grace_seconds)",
    )
    async def rotate_webhook_secret(
        self,
        session: SessionDep,
        app_id: FromPath[uuid.UUID],
        if_match: IfMatchDep,
        data: JSONBody[WebhookSecretRotation | None] = None,
    ) -> WebhookSecretRotated:
        return await service.rotate_webhook_secret(session, app_id, data, expected_version=if_match.version())

    @get(
        "/{app_id:uuid}/installations/{tenant_id:uuid}/deliveries",
        permission=DEVELOP,
        summary="The webhook deliveries one installing business sent the app, with each last response",
    )
    async def list_deliveries(
        self,
        session: SessionDep,
        services: ServicesDep,
        page: PageDep,
        app_id: FromPath[uuid.UUID],
        tenant_id: FromPath[uuid.UUID],
        status: FromQuery[str | None] = None,
        event_name: FromQuery[str | None] = None,
        event_id: FromQuery[uuid.UUID | None] = None,
    ) -> Page[DeliveryView]:
        filters = DeliveryFilter(status=status, event_name=event_name, event_id=event_id)
        async with in_installing_business(session, services.db, app_id, tenant_id) as (theirs, owner):
            return await webhooks.list_deliveries(theirs, page, filters, owner=owner)

    @get(
        "/{app_id:uuid}/installations/{tenant_id:uuid}/deliveries/{delivery_id:uuid}",
        permission=DEVELOP,
        summary="A webhook delivery to the app in one installing business: its body and every attempt",
    )
    async def show_delivery(
        self,
        session: SessionDep,
        services: ServicesDep,
        app_id: FromPath[uuid.UUID],
        tenant_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
    ) -> DeliveryDetail:
        async with in_installing_business(session, services.db, app_id, tenant_id) as (theirs, owner):
            return await webhooks.get_delivery(theirs, delivery_id, owner=owner)

    @post(
        "/{app_id:uuid}/installations/{tenant_id:uuid}/deliveries/{delivery_id:uuid}/replay",
        permission=DEVELOP,
        status_code=202,
        summary="Send a webhook delivery to the app again (same body and Huike-Delivery id)",
    )
    async def replay_delivery(
        self,
        session: SessionDep,
        services: ServicesDep,
        app_id: FromPath[uuid.UUID],
        tenant_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
    ) -> Response[DeliveryView]:
        async with in_installing_business(session, services.db, app_id, tenant_id) as (theirs, owner):
            replayed = await webhooks.replay_delivery(theirs, delivery_id, owner=owner)
        return Response(replayed, status_code=202)


class AppInstallationController(Controller):
    path = "/api/v1/app-installations"
    tags = ["apps"]

    @get("/", permission=INSTALL, summary="List the apps installed in this business")
    async def list_installations(
        self, session: SessionDep, services: ServicesDep, page: PageDep
    ) -> Page[InstallationView]:
        return await installations.list_installations(session, services.scopes, page)

    @get(
        "/{installation_id:uuid}", permission=INSTALL, summary="Show an installed app and what it was granted"
    )
    async def show(
        self, session: SessionDep, services: ServicesDep, installation_id: FromPath[uuid.UUID]
    ) -> Response[InstallationView]:
        return etagged(await installations.get_installation(session, services.scopes, installation_id))

    @delete(
        "/{installation_id:uuid}",
        permission=INSTALL,
        summary="Uninstall an app: every token it holds for this business stops working at once",
    )
    async def uninstall(
        self, session: SessionDep, installation_id: FromPath[uuid.UUID], if_match: IfMatchDep
    ) -> None:
        await installations.uninstall(session, installation_id, expected_version=if_match.version())

    @get(
        "/{installation_id:uuid}/deliveries",
        permission=INSTALL,
        summary="The webhook deliveries this business sent the app, with each last response",
    )
    async def list_deliveries(
        self,
        session: SessionDep,
        page: PageDep,
        installation_id: FromPath[uuid.UUID],
        status: FromQuery[str | None] = None,
        event_name: FromQuery[str | None] = None,
        event_id: FromQuery[uuid.UUID | None] = None,
    ) -> Page[DeliveryView]:
        owner = await installation_owner(session, installation_id)
        filters = DeliveryFilter(status=status, event_name=event_name, event_id=event_id)
        return await webhooks.list_deliveries(session, page, filters, owner=owner)

    @get(
        "/{installation_id:uuid}/deliveries/{delivery_id:uuid}",
        permission=INSTALL,
        summary="A webhook delivery to the app: its body and every attempt",
    )
    async def show_delivery(
        self, session: SessionDep, installation_id: FromPath[uuid.UUID], delivery_id: FromPath[uuid.UUID]
    ) -> DeliveryDetail:
        owner = await installation_owner(session, installation_id)
        return await webhooks.get_delivery(session, delivery_id, owner=owner)

    @post(
        "/{installation_id:uuid}/deliveries/{delivery_id:uuid}/replay",
        permission=INSTALL,
        status_code=202,
        summary="Send a webhook delivery to the app again (same body and Huike-Delivery id)",
    )
    async def replay_delivery(
        self, session: SessionDep, installation_id: FromPath[uuid.UUID], delivery_id: FromPath[uuid.UUID]
    ) -> Response[DeliveryView]:
        owner = await installation_owner(session, installation_id)
        return Response(await webhooks.replay_delivery(session, delivery_id, owner=owner), status_code=202)
