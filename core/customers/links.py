"""The seam for other domains' records that point at a customer with a foreign key
(opportunities; later orders, invoices): they are kept right inside the customer's own
transactions, since the customer row cannot go while they point at it.

Each such domain declares one :class:`CustomerLink`; the composition root lists them
(``customer_links()`` in ``frontend_api/services.py``) and the customer routes hand the list
to :func:`~core.customers.service.merge_customers`, ``transfer_customers`` and
``delete_customer``, which call every link before the change lands:

- ``merged(session, merged_id, survivor_id)``: re-point the rows of the merged customer at
  the survivor (before the merged customer is deleted);
- ``transferred(session, changes)``: the customers changed owner; move what follows the owner
  (a rep's open opportunities on the customer);
- ``deleting(session, customer_id)``: the customer is being deleted; remove the rows, or
  refuse with a :class:`~core.kernel.errors.Conflict`.

Domains whose rows hold a ``customer_id`` without a foreign key (activities, the timeline)
may use the ``customers.merged`` event instead, after commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["CustomerLink", "OwnerChange"]


@dataclass(frozen=True, slots=True)
class OwnerChange:
    customer_id: uuid.UUID
    #: None: the customer came out of the public pool.
    from_owner_id: uuid.UUID | None
    to_owner_id: uuid.UUID
    #: The new owner's team.
    to_team_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class CustomerLink:
    """What one domain does with its rows about a customer, in the customer's transaction."""

    #: The declaring package, for error messages (``core.sales``).
    owner: str
    merged: Callable[[AsyncSession, uuid.UUID, uuid.UUID], Awaitable[None]]
    transferred: Callable[[AsyncSession, Sequence[OwnerChange]], Awaitable[None]]
    deleting: Callable[[AsyncSession, uuid.UUID], Awaitable[None]]
