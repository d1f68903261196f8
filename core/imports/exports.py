"""Exports of customers, contacts, leads and opportunities to CSV or XLSX: the list's own query (the same
filters, the caller's read scope, narrowed further by the scope of ``imports.export``), read
500 rows at a time, each batch in its own short transaction, with personal fields masked
exactly as the API masks them (the API's own views build every row).

CSV is streamed as it is read, UTF-8 with a BOM so that Chinese Excel opens it correctly.
XLSX is written by openpyxl's write-only mode (rows go to a temporary file, not memory), then
streamed. Each export is audited before the first byte leaves: who, which filter (searched
phone numbers and emails redacted), how many rows, masked or not.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import msgspec
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.audit.capture import REDACTED
from core.customers.models import Contact, Customer
from core.customers.permissions import READ_SENSITIVE
from core.customers.schemas import CustomerFilter
from core.customers.service import customers_query
from core.customers.views import contact_view, customer_view
from core.customfields.schemas import FieldView
from core.customfields.service import definitions_for
from core.imports.mapping import CUSTOM_PREFIX, field_label
from core.imports.permissions import EXPORT
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.errors import Invalid
from core.kernel.tenancy import tenant_context
from core.leads.models import Lead
from core.leads.schemas import LeadFilter
from core.leads.service import leads_query
from core.leads.views import lead_view
from core.sales.models import Opportunity, Pipeline, Stage
from core.sales.opportunities import opportunities_query
from core.sales.schemas import OpportunityFilter
from core.sales.views import opportunity_view
from core.security.models import Membership, User
from core.security.principal import Principal
from core.security.scope import owner_filter

__all__ = ["FORMATS", "Export", "start_export"]

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_BATCH = 500
_CUSTOMER_FIELDS = ["name", "kind", "level", "stage", "source", "industry", "tags", "owner", "phone", "email",
                    "address", "id_number"]  # fmt: skip
_LEAD_FIELDS = ["name", "company", "title", "phone", "email", "source", "region", "owner", "message"]
_CONTACT_FIELDS = ["customer", "name", "title", "phone", "email"]
_OPPORTUNITY_FIELDS = ["name", "customer", "pipeline", "stage", "status", "amount", "currency", "probability",
                       "weighted_amount", "expected_close_date", "forecast_category", "owner", "source",
                       "lost_reason", "created_at"]  # fmt: skip
#: Models whose export query selects a row of several columns (the model first), not the model.
_JOINED = (Contact, Opportunity)
_ENTITY = {"customers": "customer", "contacts": "contact", "leads": "lead", "opportunities": "opportunity"}


@dataclass(frozen=True, slots=True)
class Export:
    """A started export: what the route streams."""

    chunks: AsyncIterator[bytes]
    filename: str
    media_type: str
    rows: int


Query = Callable[[AsyncSession], Awaitable[Select[Any]]]
Line = Callable[[Any, dict[uuid.UUID, str]], list[Any]]


def _text(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return value.get("amount", msgspec.json.encode(value).decode()) if "amount" in value else str(value)
    return value


def _filter_record(f: msgspec.Struct) -> dict[str, Any]:
    found = {k: v for k, v in msgspec.to_builtins(f).items() if v not in (None, [], "")}
    for key in ("phone", "email"):
        if key in found:
            found[key] = REDACTED
    return found


async def _language(session: AsyncSession, principal: Principal, requested: str | None) -> str:
    if requested:
        return requested.split(",")[0].strip()
    locale = await session.scalar(select(User.locale).where(User.id == principal.user_id))
    return locale or "zh-CN"


async def _owners(session: AsyncSession) -> dict[uuid.UUID, str]:
    rows = await session.execute(
        select(Membership.user_id, User.email).join(User, User.id == Membership.user_id)
    )
    return {user_id: email for user_id, email in rows}


async def start_export(
    session: AsyncSession,
    db: Database,
    principal: Principal,
    entity: str,
    filters: CustomerFilter | LeadFilter | OpportunityFilter | None,
    fmt: str,
    *,
    language: str | None = None,
    customer_id: uuid.UUID | None = None,
) -> Export:
    """Count and audit the export in ``session`` (the request's transaction), and return the
    stream that reads the rows afterwards."""
    if fmt not in FORMATS:
        raise Invalid(f"format must be one of {', '.join(FORMATS)}.", field="format", code="invalid_choice")
    lang = await _language(session, principal, language)
    entity_name = _ENTITY[entity]
    definitions = await definitions_for(session, entity_name)
    query, fields, line, model = _spec(entity, principal, filters, customer_id, definitions)
    count = await session.scalar(select(func.count()).select_from((await query(session)).subquery()))
    await audit.record(
        session,
        f"export.{entity}",
        entity_type=entity,
        details={
            "format": fmt,
            "filter": _filter_record(filters) if filters is not None else {"customer_id": str(customer_id)},
            "rows": count,
            "masked": not principal.can(READ_SENSITIVE),
        },
    )
    header = [field_label(entity_name, f, lang, definitions) for f in fields]
    rows = _rows(db, principal.tenant_id, query, model, line)
    chunks = _csv_stream(header, rows) if fmt == "csv" else _xlsx_stream(header, rows, entity)
    return Export(chunks=chunks, filename=f"{entity}.{fmt}", media_type=FORMATS[fmt], rows=count or 0)


def _spec(
    entity: str,
    principal: Principal,
    filters: CustomerFilter | LeadFilter | OpportunityFilter | None,
    customer_id: uuid.UUID | None,
    definitions: list[FieldView],
) -> tuple[Query, list[str], Line, Any]:
    custom = [CUSTOM_PREFIX + d.key for d in definitions if not d.archived]
    keys = [d.key for d in definitions if not d.archived]
    if entity == "customers" or entity == "contacts":

        async def customers(session: AsyncSession) -> Select[Any]:
            stmt = await customers_query(session, principal, filters or CustomerFilter())  # type: ignore[arg-type]
            return stmt.where(await owner_filter(session, principal, EXPORT, Customer.owner_id))

        if entity == "customers":

            def customer_line(c: Customer, owners: dict[uuid.UUID, str]) -> list[Any]:
                view = msgspec.to_builtins(customer_view(c, principal))
                view["owner"] = owners.get(c.owner_id) if c.owner_id else None
                return [_text(view.get(f)) for f in _CUSTOMER_FIELDS] + [
                    _text(view["custom_fields"].get(k)) for k in keys
                ]

            return customers, _CUSTOMER_FIELDS + custom, customer_line, Customer

        async def contacts(session: AsyncSession) -> Select[Any]:
            visible = (await customers(session)).with_only_columns(Customer.id)
            if customer_id is not None:
                visible = visible.where(Customer.id == customer_id)
            stmt: Any = (
                select(Contact, Customer.name)
                .join(
                    Customer, (Customer.tenant_id == Contact.tenant_id) & (Customer.id == Contact.customer_id)
                )
                .where(Contact.customer_id.in_(visible))
            )
            return cast(Select[Any], stmt)

        def contact_line(row: Any, owners: dict[uuid.UUID, str]) -> list[Any]:
            contact, customer_name = row
            view = msgspec.to_builtins(contact_view(contact, principal))
            view["customer"] = customer_name
            return [_text(view.get(f)) for f in _CONTACT_FIELDS] + [
                _text(view["custom_fields"].get(k)) for k in keys
            ]

        return contacts, _CONTACT_FIELDS + custom, contact_line, Contact

    if entity == "opportunities":
        return _opportunities(principal, filters, keys, custom)

    async def leads(session: AsyncSession) -> Select[Any]:
        stmt = await leads_query(session, principal, filters or LeadFilter())  # type: ignore[arg-type]
        return stmt.where(await owner_filter(session, principal, EXPORT, Lead.owner_id))

    def lead_line(lead: Lead, owners: dict[uuid.UUID, str]) -> list[Any]:
        view = msgspec.to_builtins(lead_view(lead, principal))
        view["owner"] = owners.get(lead.owner_id) if lead.owner_id else None
        return [_text(view.get(f)) for f in _LEAD_FIELDS] + [
            _text(view["custom_fields"].get(k)) for k in keys
        ]

    return leads, _LEAD_FIELDS + custom, lead_line, Lead


def _opportunities(
    principal: Principal, filters: Any, keys: list[str], custom: list[str]
) -> tuple[Query, list[str], Line, Any]:
    async def opportunities(session: AsyncSession) -> Select[Any]:
        stmt = await opportunities_query(session, principal, filters or OpportunityFilter())
        joined: Any = (
            stmt.add_columns(Stage, Pipeline.name, Customer.name)
            .join(Stage, (Stage.tenant_id == Opportunity.tenant_id) & (Stage.id == Opportunity.stage_id))
            .join(
                Pipeline,
                (Pipeline.tenant_id == Opportunity.tenant_id) & (Pipeline.id == Opportunity.pipeline_id),
            )
            .join(
                Customer,
                (Customer.tenant_id == Opportunity.tenant_id) & (Customer.id == Opportunity.customer_id),
            )
            .where(await owner_filter(session, principal, EXPORT, Opportunity.owner_id))
        )
        return cast(Select[Any], joined)

    now = utcnow()

    def opportunity_line(row: Any, owners: dict[uuid.UUID, str]) -> list[Any]:
        opportunity, stage, pipeline_name, customer_name = row
        view = msgspec.to_builtins(opportunity_view(opportunity, stage, now))
        view.update(
            customer=customer_name,
            pipeline=pipeline_name,
            stage=stage.name,
            owner=owners.get(opportunity.owner_id) if opportunity.owner_id else None,
        )
        return [_text(view.get(f)) for f in _OPPORTUNITY_FIELDS] + [
            _text(view["custom_fields"].get(k)) for k in keys
        ]

    return opportunities, _OPPORTUNITY_FIELDS + custom, opportunity_line, Opportunity


async def _rows(
    db: Database, tenant_id: uuid.UUID, query: Query, model: Any, line: Line
) -> AsyncIterator[list[Any]]:
    after: uuid.UUID | None = None
    owners: dict[uuid.UUID, str] | None = None
    while True:
        with tenant_context(tenant_id):
            async with db.transaction() as session:
                if owners is None:
                    owners = await _owners(session)
                stmt = await query(session)
                if after is not None:
                    stmt = stmt.where(model.id > after)
                result = await session.execute(stmt.order_by(model.id).limit(_BATCH))
                batch = list(result.all()) if model in _JOINED else list(result.scalars().all())
                lines = [line(item, owners) for item in batch]
        if not batch:
            return
        for values in lines:
            yield values
        last = batch[-1]
        after = (last[0] if model in _JOINED else last).id


def _csv_line(values: list[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(["" if v is None else v for v in values])
    return buffer.getvalue().encode()


async def _csv_stream(header: list[str], rows: AsyncIterator[list[Any]]) -> AsyncIterator[bytes]:
    yield "\ufeff".encode() + _csv_line(header)
    pending = bytearray()
    async for values in rows:
        pending += _csv_line(values)
        if len(pending) >= 64 * 1024:
            yield bytes(pending)
            pending.clear()
    if pending:
        yield bytes(pending)


async def _xlsx_stream(header: list[str], rows: AsyncIterator[list[Any]], title: str) -> AsyncIterator[bytes]:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append(header)
    async for values in rows:
        sheet.append(values)
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        workbook.save(path)
        with open(path, "rb") as saved:  # noqa: ASYNC230 (a local temporary file)
            while piece := saved.read(64 * 1024):
                yield piece
    finally:
        os.unlink(path)
