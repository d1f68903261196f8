"""Domain events of the customers package. Payloads carry ids and field names, never
personal data (the outbox is not encrypted)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from core.events.schemas import DomainEvent

__all__ = [
    "ContactCreated",
    "ContactUpdated",
    "CustomerCreated",
    "CustomerDeleted",
    "CustomerMerged",
    "CustomerTransferred",
    "CustomerUpdated",
]


class CustomerCreated(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "customers.created"
    version: ClassVar[int] = 1
    customer_id: uuid.UUID
    owner_id: uuid.UUID


class CustomerUpdated(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "customers.updated"
    version: ClassVar[int] = 1
    customer_id: uuid.UUID
    fields: list[str]


class CustomerDeleted(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "customers.deleted"
    version: ClassVar[int] = 1
    customer_id: uuid.UUID


class CustomerTransferred(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "customers.transferred"
    version: ClassVar[int] = 1
    customer_id: uuid.UUID
    from_owner_id: uuid.UUID
    to_owner_id: uuid.UUID


class CustomerMerged(DomainEvent, frozen=True, kw_only=True):
    """``merged_id`` was folded into ``survivor_id`` and deleted. The seam for history kept by
    other domains (activities, opportunities, orders): their handler re-points every row of
    ``merged_id`` to ``survivor_id``."""

    name: ClassVar[str] = "customers.merged"
    version: ClassVar[int] = 1
    survivor_id: uuid.UUID
    merged_id: uuid.UUID
    moved_contact_ids: list[uuid.UUID]


class ContactCreated(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "customers.contact_created"
    version: ClassVar[int] = 1
    contact_id: uuid.UUID
    customer_id: uuid.UUID


class ContactUpdated(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "customers.contact_updated"
    version: ClassVar[int] = 1
    contact_id: uuid.UUID
    customer_id: uuid.UUID
    fields: list[str]
