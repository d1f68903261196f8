"""Duplicate lookups for a whole batch at once: one blind-index query per column (not one
per row) for phones and emails, one for company names. What counts as a duplicate is what
``core/customers/duplicates.py`` decides for one record: the same normalized phone or email on
any customer or contact, or the same company name ignoring case."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, String, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import NullType

from core.crypto.fields import blind_index_lookup
from core.customers.models import Contact, Customer, CustomerKind

__all__ = ["by_blind_index", "customer_keys_taken", "one_of"]


def one_of(session: AsyncSession, column: Any, values: list[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``= ANY(:array)``, one parameter instead of a
    batch's hundreds (parsed and planned once, not per list length)."""
    if session.get_bind().dialect.name == "postgresql":
        element = column.type if not isinstance(column.type, NullType) else String()
        array = bindparam(None, values, type_=postgresql.ARRAY(element), expanding=False)
        clause: ColumnElement[bool] = column == any_(array)
        return clause
    in_list: ColumnElement[bool] = column.in_(values)
    return in_list


async def by_blind_index(
    session: AsyncSession,
    attribute: InstrumentedAttribute[Any],
    values: Iterable[str],
    id_column: InstrumentedAttribute[uuid.UUID],
) -> dict[str, uuid.UUID]:
    """``{value: id}`` for the ``values`` some row holds in encrypted ``attribute`` (the first
    row found for each, oldest id first); ``id_column`` is what to answer with."""
    bidx, digests = await blind_index_lookup(session, attribute, values)
    if not digests:
        return {}
    # No ORDER BY: sorting would tempt the planner into walking the primary key; the oldest
    # (ids are time-ordered) is picked here instead.
    rows = await session.execute(select(id_column, bidx).where(one_of(session, bidx, list(digests))))
    found: dict[str, uuid.UUID] = {}
    for entity_id, digest in rows:
        value = digests[bytes(digest)]
        if value not in found or entity_id < found[value]:
            found[value] = entity_id
    return found


async def customer_keys_taken(
    session: AsyncSession, phones: set[str], emails: set[str], company_names: set[str]
) -> dict[str, uuid.UUID]:
    """The existing customer for each duplicate key: ``phone:<E.164>``, ``email:<lower>``,
    ``name:<lower>``; a contact's phone or email answers with its customer."""
    taken: dict[str, uuid.UUID] = {}
    for kind, values in (("phone", phones), ("email", emails)):
        if not values:
            continue
        for model, id_column in ((Contact, Contact.customer_id), (Customer, Customer.id)):
            found = await by_blind_index(session, getattr(model, kind), values, id_column)
            for value, customer_id in found.items():
                taken[f"{kind}:{value.lower() if kind == 'email' else value}"] = customer_id
    if company_names:
        rows = await session.execute(
            select(Customer.id, func.lower(Customer.name)).where(
                Customer.kind == CustomerKind.COMPANY,
                # An IN list, not ``= ANY``: under row-level security no index serves lower(name)
                # (lower() is not leakproof), and PostgreSQL hashes an IN list, not a parameter.
                func.lower(Customer.name).in_(sorted(company_names)),
            )
        )
        for customer_id, name in rows:
            key = f"name:{name}"
            if key not in taken or customer_id < taken[key]:
                taken[key] = customer_id
    return taken
