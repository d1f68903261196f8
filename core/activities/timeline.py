"""The customer timeline: its activities and the domain events about it, newest first.

Any domain adds its events to the timeline by listing them (the composition root assembles
one list, ``timeline_events()`` in ``frontend_api/services.py``)::

    TIMELINE = [TimelineEvent(OrderPlaced, ref="order"), TimelineEvent(TicketOpened, ref="ticket")]

Each event type gets a handler that writes one :class:`TimelineEntry` per event after the
event's commit: the event's ``customer_id`` (or ``customer_field``), its payload as ``data``
(events carry ids and field names only), its ``<ref>_id`` as the reference, its
``actor_field`` (``actor_id`` when the event has one) as the actor, and the event's own time
(its id is a UUIDv7). Handlers run once per event id (``processed_messages``), and a unique
``(tenant_id, event_id)`` makes a stray second run add nothing.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import msgspec
from sqlalchemy import (
    Insert,
    ScalarSelect,
    Table,
    and_,
    bindparam,
    delete,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from core.activities import permissions as activity_permissions
from core.activities.models import Activity, TimelineEntry
from core.activities.schemas import TimelineItem
from core.activities.views import activity_view, entry_view
from core.customers import permissions as customer_permissions
from core.customers.access import customer_in_scope
from core.customers.events import CustomerDeleted, CustomerMerged
from core.events.schemas import DomainEvent
from core.jobs.context import JobContext
from core.jobs.registry import Handler, handler
from core.kernel.clock import utcnow
from core.kernel.errors import Invalid
from core.kernel.ids import id_time
from core.kernel.pagination import Page, PageRequest, decode_cursor, encode_cursor
from core.kernel.tenancy import current_tenant_id
from core.kernel.upsert import dialect_insert
from core.security.principal import Principal

__all__ = ["HANDLERS", "MERGED", "TimelineEvent", "customer_timeline", "timeline_handlers"]


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """An event type that adds an entry to its customer's timeline."""

    event_type: type[DomainEvent]
    #: What the entry refers to: ``ref_type``, with the id in the event's ``<ref>_id``.
    ref: str = "customer"
    #: The payload field holding the customer's id.
    customer_field: str = "customer_id"
    #: The payload field holding who did it, if the event says.
    actor_field: str = "actor_id"

    def __post_init__(self) -> None:
        fields = set(self.event_type.__struct_fields__)
        for needed in (self.customer_field, f"{self.ref}_id"):
            if needed not in fields:
                raise ValueError(f"{self.event_type.name}: a timeline event needs the field {needed!r}")

    def entry_values(self, event: DomainEvent, event_id: uuid.UUID) -> dict[str, Any] | None:
        customer_id = getattr(event, self.customer_field)
        if customer_id is None:
            return None
        return {
            "customer_id": customer_id,
            "event_id": event_id,
            "event": self.event_type.name,
            "occurred_at": id_time(event_id),
            "data": msgspec.to_builtins(event),
            "actor_id": getattr(event, self.actor_field, None),
            "ref_type": self.ref,
            "ref_id": getattr(event, f"{self.ref}_id"),
        }


def timeline_handlers(events: Iterable[TimelineEvent]) -> list[Handler[Any]]:
    """One handler per timeline event type, named ``activities.timeline.<event name>``."""
    return [_entry_writer(spec) for spec in events]


def _entry_writer(spec: TimelineEvent) -> Handler[Any]:
    async def write_entry(ctx: JobContext, event: DomainEvent) -> None:
        await _write_entry(ctx, spec, event)

    return handler(spec.event_type, name=f"activities.timeline.{spec.event_type.name}")(write_entry)


async def _write_entry(ctx: JobContext, spec: TimelineEvent, event: DomainEvent) -> None:
    values = spec.entry_values(event, ctx.message_id)
    if values is None:
        return
    # Every event of a customer comes here: one statement, built once, with the tenant as a
    # parameter (RLS applies to it on PostgreSQL too); it finds the survivor itself.
    connection = await ctx.session.connection()
    tenant_id = current_tenant_id()
    subject_id = values.pop("customer_id")
    await connection.execute(
        _insert_entry(connection.dialect.name),
        {"tenant_id": tenant_id, "merge_tenant_id": tenant_id, "subject_id": subject_id, **values},
    )


#: The merge's own timeline entry, on the survivor; it also records where the merged id went.
MERGED = TimelineEvent(CustomerMerged, customer_field="survivor_id", ref="merged")
_MAX_MERGE_HOPS = 20


def _survivor() -> ScalarSelect[Any]:
    """The customer ``:subject_id`` (of ``:merge_tenant_id``) was merged into, through every
    later merge (up to ``_MAX_MERGE_HOPS``), or itself: an event about a merged customer
    handled after the merge lands on the survivor. Each merge's entry (``MERGED``) leads from
    the merged id to its survivor."""
    merge = cast(Table, TimelineEntry.__table__).alias("merge_entry")
    start = select(
        bindparam("subject_id", type_=merge.c.customer_id.type).label("customer_id"),
        literal(0).label("hops"),
    )
    chain = start.cte("merge_chain", recursive=True)
    chain = chain.union_all(
        select(merge.c.customer_id, chain.c.hops + 1).where(
            merge.c.tenant_id == bindparam("merge_tenant_id"),
            merge.c.ref_type == MERGED.ref,
            merge.c.ref_id == chain.c.customer_id,
            merge.c.customer_id != chain.c.customer_id,
            chain.c.hops < _MAX_MERGE_HOPS,
        )
    )
    return select(chain.c.customer_id).order_by(chain.c.hops.desc()).limit(1).scalar_subquery()


@functools.cache
def _insert_entry(dialect: str) -> Insert:
    entries = cast(Table, TimelineEntry.__table__)
    return (
        dialect_insert(dialect, entries)
        .values(customer_id=_survivor())
        .on_conflict_do_nothing(index_elements=["tenant_id", "event_id"])
    )


@handler(CustomerMerged, name="activities.customer_merged")
async def move_merged_history(ctx: JobContext, event: CustomerMerged) -> None:
    """The merged customer's activities and timeline entries now belong to the survivor; the
    merge's entry is written in the same transaction (its own handler then adds nothing), so
    an entry about the merged id written later follows it to the survivor."""
    await _write_entry(ctx, MERGED, event)
    session, merged, survivor = ctx.session, event.merged_id, event.survivor_id
    await session.execute(
        update(Activity)
        .where(Activity.subject_type == "customer", Activity.subject_id == merged)
        .values(subject_id=survivor)
    )
    await session.execute(update(Activity).where(Activity.customer_id == merged).values(customer_id=survivor))
    await session.execute(
        update(TimelineEntry).where(TimelineEntry.customer_id == merged).values(customer_id=survivor)
    )


@handler(CustomerDeleted, name="activities.customer_deleted")
async def drop_deleted_history(ctx: JobContext, event: CustomerDeleted) -> None:
    """A deleted customer's activities (their notes may hold personal data) and timeline go."""
    await ctx.session.execute(delete(Activity).where(Activity.customer_id == event.customer_id))
    await ctx.session.execute(delete(TimelineEntry).where(TimelineEntry.customer_id == event.customer_id))


HANDLERS: list[Handler[Any]] = [move_merged_history, drop_deleted_history]


def _after(page: PageRequest) -> tuple[datetime, uuid.UUID] | None:
    if not page.cursor:
        return None
    moment, last_id = decode_cursor(page.cursor)
    try:
        return datetime.fromisoformat(str(moment)), uuid.UUID(str(last_id))
    except (TypeError, ValueError) as exc:
        raise Invalid(
            "The cursor is not one this API issued.", field="cursor", code="invalid_cursor"
        ) from exc


async def customer_timeline(
    session: AsyncSession, principal: Principal, customer_id: uuid.UUID, page: PageRequest
) -> Page[TimelineItem]:
    """Everything about a customer the caller may read, newest first: its activities (for a
    caller holding ``activities.read``) and its timeline entries, keyset-paged."""
    await customer_in_scope(session, principal, customer_id, customer_permissions.READ)
    if page.sort not in (None, "", "-occurred_at"):
        raise Invalid("The timeline is sorted by -occurred_at only.", field="sort", code="invalid_sort")
    limit = page.checked_limit()
    tenant_id = current_tenant_id()
    parts = [
        select(literal("event").label("type"), TimelineEntry.id.label("id"), TimelineEntry.occurred_at).where(
            TimelineEntry.tenant_id == tenant_id, TimelineEntry.customer_id == customer_id
        )
    ]
    if principal.can(activity_permissions.READ):
        parts.append(
            select(literal("activity"), Activity.id, Activity.occurred_at).where(
                Activity.tenant_id == tenant_id, Activity.customer_id == customer_id
            )
        )
    lines = union_all(*parts).subquery()
    stmt = select(lines.c.type, lines.c.id, lines.c.occurred_at)
    after = _after(page)
    if after is not None:
        stmt = stmt.where(
            or_(lines.c.occurred_at < after[0], and_(lines.c.occurred_at == after[0], lines.c.id < after[1]))
        )
    rows = list(
        (
            await session.execute(
                stmt.order_by(lines.c.occurred_at.desc(), lines.c.id.desc()).limit(limit + 1)
            )
        ).all()
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].occurred_at.isoformat(), str(rows[-1].id)])
    return Page(items=await _items(session, rows), next_cursor=next_cursor)


async def _items(session: AsyncSession, rows: list[Any]) -> list[TimelineItem]:
    activity_ids = [r.id for r in rows if r.type == "activity"]
    entry_ids = [r.id for r in rows if r.type == "event"]
    activities = {
        a.id: a for a in (await session.scalars(select(Activity).where(Activity.id.in_(activity_ids)))).all()
    }
    entries = {
        e.id: e
        for e in (await session.scalars(select(TimelineEntry).where(TimelineEntry.id.in_(entry_ids)))).all()
    }
    now = utcnow()
    items = []
    for row in rows:
        if row.type == "activity":
            activity = activity_view(activities[row.id], now)
            items.append(
                TimelineItem(type="activity", id=row.id, occurred_at=activity.occurred_at, activity=activity)
            )
        else:
            entry = entry_view(entries[row.id])
            items.append(TimelineItem(type="event", id=row.id, occurred_at=entry.occurred_at, entry=entry))
    return items
