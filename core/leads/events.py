"""Domain events of the leads package. Payloads carry ids, never personal data."""

from __future__ import annotations

import uuid
from typing import ClassVar

from core.events.schemas import DomainEvent

__all__ = ["LeadAssigned", "LeadConverted", "LeadCreated", "LeadStatusChanged"]


class LeadCreated(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "leads.created"
    version: ClassVar[int] = 1
    lead_id: uuid.UUID
    owner_id: uuid.UUID | None
    #: ``api``, ``form`` or ``import``.
    channel: str
    form_id: uuid.UUID | None = None


class LeadAssigned(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "leads.assigned"
    version: ClassVar[int] = 1
    lead_id: uuid.UUID
    from_owner_id: uuid.UUID | None
    to_owner_id: uuid.UUID
    #: The assignment rule that chose the owner; None when a person did.
    rule_id: uuid.UUID | None = None


class LeadStatusChanged(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "leads.status_changed"
    version: ClassVar[int] = 1
    lead_id: uuid.UUID
    from_status: str
    to_status: str


class LeadConverted(DomainEvent, frozen=True, kw_only=True):
    """The lead became (or joined) ``customer_id``; carries ``customer_id`` so the customer's
    timeline shows where it came from."""

    name: ClassVar[str] = "leads.converted"
    version: ClassVar[int] = 1
    lead_id: uuid.UUID
    customer_id: uuid.UUID
    contact_id: uuid.UUID | None
    opportunity_id: uuid.UUID | None
    owner_id: uuid.UUID
