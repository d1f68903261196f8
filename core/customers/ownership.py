"""Who owns a customer: the two moves every ownership change is made of, so create, transfer,
claim, release and the pool's job leave the same columns behind."""

from __future__ import annotations

import uuid

from core.customers.models import Customer
from core.kernel.clock import utcnow

__all__ = ["assign", "put_in_pool"]


def assign(customer: Customer, owner_id: uuid.UUID, team_id: uuid.UUID | None) -> None:
    """Give ``customer`` to ``owner_id``: the pool's clock restarts and its pool marks clear."""
    customer.owner_id = owner_id
    customer.team_id = team_id
    customer.assigned_at = utcnow()
    customer.pool_noticed_at = None
    customer.pool_entered_at = None
    customer.pool_reason = None
    customer.pool_note = None
    customer.pool_released_by = None
    customer.pool_previous_owner_id = None


def put_in_pool(customer: Customer, reason: str, note: str | None, by: uuid.UUID | None) -> None:
    """Take ``customer`` from its owner into the public pool (``by``: who; None, the job)."""
    customer.pool_previous_owner_id = customer.owner_id
    customer.owner_id = None
    customer.team_id = None
    customer.assigned_at = None
    customer.pool_noticed_at = None
    customer.pool_entered_at = utcnow()
    customer.pool_reason = reason
    customer.pool_note = note
    customer.pool_released_by = by
