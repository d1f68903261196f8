"""Customers and their contacts: the thin HTTP adapter over ``core/customers``."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from core.customers import contacts, pool, service
from core.customers.schemas import (
    ContactCreate,
    ContactUpdate,
    ContactView,
    CustomerCreate,
    CustomerUpdate,
    CustomerView,
    MergeRequest,
    ReleaseRequest,
    TransferRequest,
    TransferResult,
)
from core.kernel.pagination import Page
from frontend_api.deps import PageDep, PrincipalDep, ServicesDep, SessionDep
from frontend_api.etags import IfMatchDep, etagged
from frontend_api.filters import CustomerFilterDep, customer_filters

__all__ = ["ContactController", "CustomerController"]

#: Create or update although a customer with the same phone, email or company name exists.
AllowDuplicate = FromQuery[bool]


class CustomerController(Controller):
    path = "/api/v1/customers"
    tags = ["customers"]

    @get("/", permission="customers.read", summary="List and search customers", dependencies=customer_filters)
    async def list_customers(
        self, session: SessionDep, principal: PrincipalDep, page: PageDep, filters: CustomerFilterDep
    ) -> Page[CustomerView]:
        return await service.list_customers(session, principal, page, filters)

    @post("/", permission="customers.create", summary="Add a customer (and its first contacts)")
    async def create(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        data: JSONBody[CustomerCreate],
        allow_duplicate: AllowDuplicate = False,
    ) -> Response[CustomerView]:
        view = await service.create_customer(session, principal, data, allow_duplicate=allow_duplicate)
        return etagged(view, status_code=201)

    @post("/transfer", permission="customers.transfer", summary="Give customers to another owner")
    async def transfer(
        self,
        services: ServicesDep,
        session: SessionDep,
        principal: PrincipalDep,
        data: JSONBody[TransferRequest],
    ) -> Response[TransferResult]:
        result = await service.transfer_customers(session, principal, data, links=services.customer_links)
        return Response(result, status_code=200)

    @get("/{customer_id:uuid}", permission="customers.read", summary="Show a customer")
    async def show(
        self, session: SessionDep, principal: PrincipalDep, customer_id: FromPath[uuid.UUID]
    ) -> Response[CustomerView]:
        return etagged(await service.get_customer(session, principal, customer_id))

    @patch("/{customer_id:uuid}", permission="customers.update", summary="Change a customer")
    async def update(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        customer_id: FromPath[uuid.UUID],
        data: JSONBody[CustomerUpdate],
        if_match: IfMatchDep,
        allow_duplicate: AllowDuplicate = False,
    ) -> Response[CustomerView]:
        view = await service.update_customer(
            session,
            principal,
            customer_id,
            data,
            expected_version=if_match.version(),
            allow_duplicate=allow_duplicate,
        )
        return etagged(view)

    @delete(
        "/{customer_id:uuid}", permission="customers.delete", summary="Delete a customer and its contacts"
    )
    async def remove(
        self,
        services: ServicesDep,
        session: SessionDep,
        principal: PrincipalDep,
        customer_id: FromPath[uuid.UUID],
        if_match: IfMatchDep,
    ) -> None:
        await service.delete_customer(
            session,
            principal,
            customer_id,
            links=services.customer_links,
            expected_version=if_match.version(),
        )

    @post(
        "/{customer_id:uuid}/merge",
        permission="customers.merge",
        summary="Merge another customer into this one",
    )
    async def merge(
        self,
        services: ServicesDep,
        session: SessionDep,
        principal: PrincipalDep,
        customer_id: FromPath[uuid.UUID],
        data: JSONBody[MergeRequest],
        if_match: IfMatchDep,
    ) -> Response[CustomerView]:
        view = await service.merge_customers(
            session,
            principal,
            customer_id,
            data,
            links=services.customer_links,
            expected_version=if_match.version(),
        )
        return etagged(view)

    @post(
        "/{customer_id:uuid}/release",
        permission="customers.release",
        summary="Put a customer back into the public pool",
    )
    async def release(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        customer_id: FromPath[uuid.UUID],
        if_match: IfMatchDep,
        data: JSONBody[ReleaseRequest | None] = None,
    ) -> Response[CustomerView]:
        view = await pool.release_customer(
            session, principal, customer_id, data or ReleaseRequest(), expected_version=if_match.version()
        )
        return etagged(view)


class ContactController(Controller):
    path = "/api/v1/customers/{customer_id:uuid}/contacts"
    tags = ["customers"]

    @get("/", permission="customers.read", summary="List a customer's contacts")
    async def list_contacts(
        self, session: SessionDep, principal: PrincipalDep, customer_id: FromPath[uuid.UUID]
    ) -> list[ContactView]:
        return await contacts.list_contacts(session, principal, customer_id)

    @post("/", permission="customers.update", summary="Add a contact to a customer")
    async def create(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        customer_id: FromPath[uuid.UUID],
        data: JSONBody[ContactCreate],
        allow_duplicate: AllowDuplicate = False,
    ) -> Response[ContactView]:
        view = await contacts.create_contact(
            session, principal, customer_id, data, allow_duplicate=allow_duplicate
        )
        return etagged(view, status_code=201)

    @get("/{contact_id:uuid}", permission="customers.read", summary="Show a contact")
    async def show(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        customer_id: FromPath[uuid.UUID],
        contact_id: FromPath[uuid.UUID],
    ) -> Response[ContactView]:
        return etagged(await contacts.get_contact(session, principal, customer_id, contact_id))

    @patch("/{contact_id:uuid}", permission="customers.update", summary="Change a contact")
    async def update(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        customer_id: FromPath[uuid.UUID],
        contact_id: FromPath[uuid.UUID],
        data: JSONBody[ContactUpdate],
        if_match: IfMatchDep,
        allow_duplicate: AllowDuplicate = False,
    ) -> Response[ContactView]:
        view = await contacts.update_contact(
            session,
            principal,
            customer_id,
            contact_id,
            data,
            expected_version=if_match.version(),
            allow_duplicate=allow_duplicate,
        )
        return etagged(view)

    @delete("/{contact_id:uuid}", permission="customers.update", summary="Remove a contact")
    async def remove(
        self,
        session: SessionDep,
        principal: PrincipalDep,
        customer_id: FromPath[uuid.UUID],
        contact_id: FromPath[uuid.UUID],
        if_match: IfMatchDep,
    ) -> None:
        await contacts.delete_contact(
            session, principal, customer_id, contact_id, expected_version=if_match.version()
        )
