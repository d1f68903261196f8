"""Domain events of the sales package. Each carries ``customer_id``, so it reaches the
customer's timeline; payloads carry ids and amounts, never free text (a lost reason may name
people)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from core.events.schemas import DomainEvent

__all__ = [
    "OpportunityCreated",
    "OpportunityLost",
    "OpportunityReopened",
    "OpportunityStageChanged",
    "OpportunityTransferred",
    "OpportunityWon",
]


class OpportunityCreated(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "opportunities.created"
    version: ClassVar[int] = 1
    opportunity_id: uuid.UUID
    customer_id: uuid.UUID
    owner_id: uuid.UUID
    pipeline_id: uuid.UUID
    stage_id: uuid.UUID
    actor_id: uuid.UUID | None = None


class OpportunityStageChanged(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "opportunities.stage_changed"
    version: ClassVar[int] = 1
    opportunity_id: uuid.UUID
    customer_id: uuid.UUID
    from_stage_id: uuid.UUID
    to_stage_id: uuid.UUID
    actor_id: uuid.UUID | None = None


class OpportunityWon(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "opportunities.won"
    version: ClassVar[int] = 1
    opportunity_id: uuid.UUID
    customer_id: uuid.UUID
    owner_id: uuid.UUID
    #: A decimal string, in ``currency``.
    amount: str
    currency: str
    actor_id: uuid.UUID | None = None


class OpportunityLost(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "opportunities.lost"
    version: ClassVar[int] = 1
    opportunity_id: uuid.UUID
    customer_id: uuid.UUID
    owner_id: uuid.UUID
    actor_id: uuid.UUID | None = None


class OpportunityReopened(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "opportunities.reopened"
    version: ClassVar[int] = 1
    opportunity_id: uuid.UUID
    customer_id: uuid.UUID
    #: ``won`` or ``lost``: what it was before.
    from_status: str
    actor_id: uuid.UUID | None = None


class OpportunityTransferred(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "opportunities.transferred"
    version: ClassVar[int] = 1
    opportunity_id: uuid.UUID
    customer_id: uuid.UUID
    from_owner_id: uuid.UUID
    to_owner_id: uuid.UUID
    actor_id: uuid.UUID | None = None
