"""Domain events of the customers package. Payloads carry ids and field names, never
personal data (the outbox is not encrypted)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from core.events.schemas import DomainEvent

__all__ = [
    "ContactCreated",
    "ContactUpdated",
    "CustomerClaimed",
    "CustomerCreated",
    "CustomerDeleted",
    "CustomerMerged",
    "CustomerReturnedToPool",
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
    """``from_owner_id`` is null when a manager assigned a customer out of the public pool."""

    name: ClassVar[str] = "customers.transferred"
    version: ClassVar[int] = 1
    customer_id: uuid.UUID
    from_owner_id: uuid.UUID | None
    to_owner_id: uuid.UUID


class CustomerReturnedToPool(DomainEvent, frozen=True, kw_only=True):
    """The customer left ``from_owner_id`` for the public pool: ``reason`` is ``no_follow_up``
    or ``no_deal`` (the periodic job; ``actor_id`` null) or ``released`` (by ``actor_id``)."""

    name: ClassVar[str] = "customers.returned_to_pool"
    version: ClassVar[int] = 1
    customer_id: uuid.UUID
    from_owner_id: uuid.UUID
    reason: str
    actor_id: uuid.UUID | None = None


class CustomerClaimed(DomainEvent, frozen=True, kw_only=True):
    """A rep took the customer out of the public pool for themselves."""

    name: ClassVar[str] = "customers.claimed"
    version: ClassVar[int] = 1
    customer_id: uuid.UUID
    owner_id: uuid.UUID
    actor_id: uuid.UUID


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
