"""The public pool's rules: one row per business (none: the pool is off), edited by tenant
admins, and the SQL conditions they translate to."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, false, func, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.customers.models import Customer, PoolReason, PoolRules
from core.customers.schemas import PoolRulesUpdate, PoolRulesView
from core.kernel.concurrency import ensure_version
from core.kernel.errors import Conflict, Invalid, PreconditionFailed

__all__ = [
    "due_for_notice",
    "due_to_return",
    "get_rules",
    "return_reason",
    "rules_of",
    "rules_view",
    "update_rules",
]

#: The rules of a business that never saved any: the pool is off.
DEFAULTS = PoolRules(
    enabled=False,
    follow_up_days={},
    default_follow_up_days=None,
    no_deal_days=None,
    notice_days=0,
    max_owned_customers=None,
    version=0,
)


async def rules_of(session: AsyncSession, *, lock: bool = False) -> PoolRules:
    """The tenant's rules (the defaults, unsaved, when it has none)."""
    stmt = select(PoolRules)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt) or DEFAULTS


def rules_view(rules: PoolRules) -> PoolRulesView:
    return PoolRulesView(
        enabled=rules.enabled,
        follow_up_days=dict(rules.follow_up_days or {}),
        default_follow_up_days=rules.default_follow_up_days,
        no_deal_days=rules.no_deal_days,
        notice_days=rules.notice_days,
        max_owned_customers=rules.max_owned_customers,
        updated_at=rules.updated_at if rules is not DEFAULTS else None,
        version=rules.version,
    )


async def get_rules(session: AsyncSession) -> PoolRulesView:
    return rules_view(await rules_of(session))


def _levels(days: dict[str, int | None]) -> dict[str, int | None]:
    cleaned: dict[str, int | None] = {}
    for level, value in days.items():
        key = level.strip()
        if not key or len(key) > 20:
            raise Invalid(
                "A level is 1 to 20 characters.", field=f"follow_up_days.{level}", code="invalid_level"
            )
        if key in cleaned:
            raise Invalid("This level is listed twice.", field=f"follow_up_days.{level}", code="duplicate")
        cleaned[key] = value
    if len(cleaned) > 50:
        raise Invalid("At most 50 levels.", field="follow_up_days", code="too_many")
    return cleaned


async def update_rules(
    session: AsyncSession, data: PoolRulesUpdate, *, expected_version: int | None = None
) -> PoolRulesView:
    """Replace the rules. ``If-Match: "0"`` (or none) saves a business's first rules."""
    levels = _levels(data.follow_up_days)
    rules = await rules_of(session, lock=True)
    if rules is DEFAULTS:
        if expected_version not in (None, 0):
            raise PreconditionFailed(
                f"The rules changed since you read them (version 0 now, {expected_version} in "
                "If-Match); read them again and re-apply your change.",
                code="version_mismatch",
            )
        rules = PoolRules()
    else:
        ensure_version(rules, expected_version)
    rules.enabled = data.enabled
    rules.follow_up_days = levels
    rules.default_follow_up_days = data.default_follow_up_days
    rules.no_deal_days = data.no_deal_days
    rules.notice_days = data.notice_days
    rules.max_owned_customers = data.max_owned_customers
    try:
        async with session.begin_nested():
            session.add(rules)
            await session.flush()
    except IntegrityError:  # two first saves at once: one wins, the other reads again
        raise Conflict(
            "The rules were just saved by someone else; read them again.", code="rules_changed"
        ) from None
    return rules_view(rules)


def _quiet(column: InstrumentedAttribute[datetime | None], cutoff: datetime) -> ColumnElement[bool]:
    """Neither assigned nor ``column`` since ``cutoff``."""
    assigned = func.coalesce(Customer.assigned_at, Customer.created_at)
    return and_(assigned < cutoff, or_(column.is_(None), column < cutoff))


def _no_follow_up(rules: PoolRules, at: datetime) -> ColumnElement[bool]:
    levels = rules.follow_up_days or {}
    clauses = [
        and_(Customer.level == level, _quiet(Customer.last_contacted_at, at - timedelta(days=days)))
        for level, days in levels.items()
        if days
    ]
    if rules.default_follow_up_days:
        unlisted = or_(Customer.level.is_(None), Customer.level.not_in(list(levels))) if levels else None
        quiet = _quiet(Customer.last_contacted_at, at - timedelta(days=rules.default_follow_up_days))
        clauses.append(and_(unlisted, quiet) if unlisted is not None else quiet)
    return or_(*clauses) if clauses else false()


def _no_deal(rules: PoolRules, at: datetime) -> ColumnElement[bool]:
    if not rules.no_deal_days:
        return false()
    return _quiet(Customer.last_deal_at, at - timedelta(days=rules.no_deal_days))


def _due(rules: PoolRules, at: datetime) -> ColumnElement[bool]:
    return and_(Customer.owner_id.is_not(None), or_(_no_follow_up(rules, at), _no_deal(rules, at)))


def return_reason(rules: PoolRules, at: datetime) -> ColumnElement[str]:
    """``no_follow_up`` or ``no_deal``: which rule makes a due customer due (SQL CASE)."""
    return case(
        (_no_follow_up(rules, at), literal(PoolReason.NO_FOLLOW_UP)), else_=literal(PoolReason.NO_DEAL)
    )


def due_to_return(rules: PoolRules, now: datetime) -> ColumnElement[bool]:
    """Customers to put in the pool now: a rule's deadline has passed and, when the rules give
    notice, the owner was told at least ``notice_days`` ago (so every owner gets the full
    notice, also when the rules are new)."""
    if not rules.enabled:
        return false()
    due = _due(rules, now)
    if rules.notice_days:
        return and_(due, Customer.pool_noticed_at <= now - timedelta(days=rules.notice_days))
    return due


def due_for_notice(rules: PoolRules, now: datetime) -> ColumnElement[bool]:
    """Owned customers whose deadline falls within the notice window, not yet noticed."""
    if not rules.enabled or not rules.notice_days:
        return false()
    return and_(_due(rules, now + timedelta(days=rules.notice_days)), Customer.pool_noticed_at.is_(None))
