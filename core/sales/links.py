"""Where opportunities meet other domains: the customer link (merge, transfer, deletion in
the customer's own transaction, see ``core/customers/links.py``) and the activity subject
``opportunity``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.activities.subjects import SubjectRef
from core.customers.links import CustomerLink, OwnerChange
from core.events.service import record_event
from core.sales.events import OpportunityTransferred
from core.sales.models import Opportunity, OpportunityStatus
from core.sales.opportunities import delete_all, opportunity_in_scope
from core.sales.permissions import READ
from core.security.principal import Principal

__all__ = ["CUSTOMER_LINK", "opportunity_subject"]


async def _merged(session: AsyncSession, merged_id: uuid.UUID, survivor_id: uuid.UUID) -> None:
    """The merged customer's opportunities (open and closed, with their history) now belong
    to the survivor."""
    await session.execute(
        update(Opportunity)
        .where(Opportunity.customer_id == merged_id)
        .values(customer_id=survivor_id, version=Opportunity.version + 1)
    )


async def _transferred(session: AsyncSession, changes: Sequence[OwnerChange]) -> None:
    """Each customer's open opportunities owned by its former owner follow it to the new one;
    closed ones keep their owner (who won or lost them), and a colleague's stay theirs."""
    for change in changes:
        if change.from_owner_id is None:  # out of the pool: nobody's deals to follow it
            continue
        moving = (
            await session.scalars(
                select(Opportunity)
                .where(
                    Opportunity.customer_id == change.customer_id,
                    Opportunity.owner_id == change.from_owner_id,
                    Opportunity.status == OpportunityStatus.OPEN,
                )
                .order_by(Opportunity.id)
                .with_for_update()
            )
        ).all()
        for opportunity in moving:
            opportunity.owner_id, opportunity.team_id = change.to_owner_id, change.to_team_id
            await record_event(
                session,
                OpportunityTransferred(
                    opportunity_id=opportunity.id,
                    customer_id=change.customer_id,
                    from_owner_id=change.from_owner_id,
                    to_owner_id=change.to_owner_id,
                ),
            )
    await session.flush()


async def _deleting(session: AsyncSession, customer_id: uuid.UUID) -> None:
    """A deleted customer's opportunities go with it."""
    doomed = (await session.scalars(select(Opportunity).where(Opportunity.customer_id == customer_id))).all()
    await delete_all(session, list(doomed))


CUSTOMER_LINK = CustomerLink(owner="core.sales", merged=_merged, transferred=_transferred, deleting=_deleting)


async def opportunity_subject(
    session: AsyncSession, principal: Principal, subject_id: uuid.UUID, permission: str
) -> SubjectRef:
    """Activities about an opportunity: the caller must see it; they show on its customer's
    timeline."""
    opportunity = await opportunity_in_scope(session, principal, subject_id, READ, field="subject_id")
    return SubjectRef(customer_id=opportunity.customer_id, owner_id=opportunity.owner_id)
