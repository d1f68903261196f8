"""The public customer pool: the thin HTTP adapter over ``core/customers/pool.py`` and
``pool_rules.py``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from core.customers import pool, pool_rules
from core.customers.schemas import CustomerFilter, CustomerView, PoolRulesUpdate, PoolRulesView
from core.kernel.pagination import Page
from frontend_api.deps import PageDep, PrincipalDep, SessionDep
from frontend_api.etags import IfMatchDep, etagged

__all__ = ["CustomerPoolController"]


class CustomerPoolController(Controller):
    path = "/api/v1/customer-pool"
    tags = ["customers"]

    @get("/", permission="customers.claim", summary="List and search the customers in the public pool")
    async def list_pool(
        self,
        request: Request[Any, Any, Any],
        session: SessionDep,
        principal: PrincipalDep,
        page: PageDep,
        q: FromQuery[str | None] = None,
        name_prefix: FromQuery[str | None] = None,
        phone: FromQuery[str | None] = None,
        email: FromQuery[str | None] = None,
        tag: FromQuery[str | None] = None,
        level: FromQuery[str | None] = None,
        stage: FromQuery[str | None] = None,
        kind: FromQuery[str | None] = None,
        last_contacted_from: FromQuery[datetime | None] = None,
        last_contacted_to: FromQuery[datetime | None] = None,
    ) -> Page[CustomerView]:
        filters = CustomerFilter(
            q=q,
            name_prefix=name_prefix,
            phone=phone,
            email=email,
            tag=tag,
            level=level,
            stage=stage,
            kind=kind,
            last_contacted_from=last_contacted_from,
            last_contacted_to=last_contacted_to,
            custom=[(k, v) for k, v in request.query_params.multi_items() if k.startswith("cf.")],
        )
        return await pool.list_pool(session, principal, page, filters)

    @get("/rules", permission="customers.claim", summary="Show the public pool's rules")
    async def show_rules(self, session: SessionDep) -> Response[PoolRulesView]:
        return etagged(await pool_rules.get_rules(session))

    @put("/rules", permission="customers.manage_pool", summary="Replace the public pool's rules")
    async def update_rules(
        self, session: SessionDep, data: JSONBody[PoolRulesUpdate], if_match: IfMatchDep
    ) -> Response[PoolRulesView]:
        return etagged(await pool_rules.update_rules(session, data, expected_version=if_match.version()))

    @get("/{customer_id:uuid}", permission="customers.claim", summary="Show a customer in the public pool")
    async def show(
        self, session: SessionDep, principal: PrincipalDep, customer_id: FromPath[uuid.UUID]
    ) -> Response[CustomerView]:
        return etagged(await pool.get_pool_customer(session, principal, customer_id))

    @post(
        "/{customer_id:uuid}/claim",
        permission="customers.claim",
        summary="Claim a customer from the public pool (within the cap of owned customers)",
    )
    async def claim(
        self, session: SessionDep, principal: PrincipalDep, customer_id: FromPath[uuid.UUID]
    ) -> Response[CustomerView]:
        return etagged(await pool.claim_customer(session, principal, customer_id))
