"""Activities in a customer's transfer (``core/customers/links.py``): when a customer changes
owner, what its former owner logged about it and their open tasks on it follow the customer,
so a leaver's work goes to their heir in the same step. Done and cancelled tasks keep their
assignee (who did them). Merges and deletions reach activities after commit, through the
``customers.merged`` and ``customers.deleted`` events (no foreign key holds them back)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from core.activities.service import transfer_activities
from core.customers.links import CustomerLink, OwnerChange

__all__ = ["CUSTOMER_LINK"]


async def _after_commit(session: AsyncSession, *ids: uuid.UUID) -> None:
    """Handled by the event handlers of core/activities/timeline.py."""


async def _transferred(session: AsyncSession, changes: Sequence[OwnerChange]) -> None:
    moves: dict[tuple[uuid.UUID, uuid.UUID, uuid.UUID | None], list[uuid.UUID]] = defaultdict(list)
    for change in changes:
        if change.from_owner_id is not None:  # out of the pool: nobody's work to follow it
            moves[(change.from_owner_id, change.to_owner_id, change.to_team_id)].append(change.customer_id)
    for (from_user_id, to_user_id, team_id), customer_ids in moves.items():
        await transfer_activities(session, from_user_id, to_user_id, team_id, customer_ids)


CUSTOMER_LINK = CustomerLink(
    owner="core.activities", merged=_after_commit, transferred=_transferred, deleting=_after_commit
)
