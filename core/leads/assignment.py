"""Assignment rules: who gets a new lead nobody was named to own.

Rules are tried by ascending ``position`` (ties: the older rule first); the first active rule
whose ``source`` and ``region`` match the lead (case-insensitive; an empty condition matches
anything) decides. ``round_robin`` gives the lead to the next active member of the rule's team
after the one who got its previous lead (members in a fixed order); ``user`` always to one
person. The rule row is locked while it chooses, so two leads arriving together never go to
the same member by accident of timing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.concurrency import ensure_version
from core.kernel.errors import Invalid, NotFound
from core.leads.models import AssignmentRule, AssignmentStrategy
from core.leads.schemas import RuleCreate, RuleUpdate, RuleView
from core.security.models import Membership
from core.security.teams import ensure_team_exists

__all__ = [
    "Assignment",
    "choose_owner",
    "create_rule",
    "delete_rule",
    "get_rule",
    "list_rules",
    "update_rule",
]


@dataclass(frozen=True, slots=True)
class Assignment:
    user_id: uuid.UUID
    team_id: uuid.UUID | None
    rule_id: uuid.UUID


def rule_view(rule: AssignmentRule) -> RuleView:
    return RuleView(
        id=rule.id,
        name=rule.name,
        position=rule.position,
        strategy=rule.strategy,
        team_id=rule.team_id,
        user_id=rule.user_id,
        source=rule.source,
        region=rule.region,
        is_active=rule.is_active,
        created_at=rule.created_at,
        version=rule.version,
    )


def _matches(condition: str | None, value: str | None) -> bool:
    if not condition:
        return True
    return value is not None and condition.strip().casefold() == value.strip().casefold()


async def choose_owner(session: AsyncSession, source: str | None, region: str | None) -> Assignment | None:
    """The owner the rules give a lead from ``source`` in ``region``; None if no rule applies
    (a matching round-robin rule whose team has no active member is passed over)."""
    rules = (
        await session.scalars(
            select(AssignmentRule)
            .where(AssignmentRule.is_active.is_(True))
            .order_by(AssignmentRule.position, AssignmentRule.created_at, AssignmentRule.id)
        )
    ).all()
    for rule in rules:
        if not (_matches(rule.source, source) and _matches(rule.region, region)):
            continue
        if rule.strategy == AssignmentStrategy.USER:
            membership = await _active_membership(session, rule.user_id)
            if membership is not None:
                return Assignment(membership.user_id, membership.team_id, rule.id)
            continue
        chosen = await _next_in_turn(session, rule.id)
        if chosen is not None:
            return chosen
    return None


async def _next_in_turn(session: AsyncSession, rule_id: uuid.UUID) -> Assignment | None:
    rule = await session.scalar(select(AssignmentRule).where(AssignmentRule.id == rule_id).with_for_update())
    if rule is None or rule.team_id is None:
        return None
    members = list(
        (
            await session.scalars(
                select(Membership.user_id)
                .where(Membership.team_id == rule.team_id, Membership.is_active.is_(True))
                .order_by(Membership.user_id)
            )
        ).all()
    )
    if not members:
        return None
    after = [m for m in members if rule.last_user_id is not None and m > rule.last_user_id]
    chosen = after[0] if after else members[0]
    rule.last_user_id = chosen
    await session.flush()
    return Assignment(chosen, rule.team_id, rule.id)


async def _active_membership(session: AsyncSession, user_id: uuid.UUID | None) -> Membership | None:
    if user_id is None:
        return None
    return await session.scalar(
        select(Membership).where(Membership.user_id == user_id, Membership.is_active.is_(True))
    )


async def _check(
    session: AsyncSession, strategy: str, team_id: uuid.UUID | None, user_id: uuid.UUID | None
) -> None:
    if strategy not in AssignmentStrategy.ALL:
        raise Invalid(
            f"Choose one of: {', '.join(AssignmentStrategy.ALL)}.", field="strategy", code="invalid_choice"
        )
    if strategy == AssignmentStrategy.ROUND_ROBIN:
        if team_id is None:
            raise Invalid(
                "A round-robin rule names the team to take turns.", field="team_id", code="required"
            )
        await ensure_team_exists(session, team_id)
    elif user_id is None:
        raise Invalid("A rule of strategy 'user' names the user.", field="user_id", code="required")
    elif await _active_membership(session, user_id) is None:
        raise Invalid(
            "This person is not an active member of the account.", field="user_id", code="unknown_user"
        )


async def list_rules(session: AsyncSession) -> list[RuleView]:
    rows = await session.scalars(
        select(AssignmentRule).order_by(AssignmentRule.position, AssignmentRule.created_at, AssignmentRule.id)
    )
    return [rule_view(r) for r in rows.all()]


async def _rule(session: AsyncSession, rule_id: uuid.UUID, *, lock: bool = False) -> AssignmentRule:
    stmt = select(AssignmentRule).where(AssignmentRule.id == rule_id)
    rule = await session.scalar(stmt.with_for_update() if lock else stmt)
    if rule is None:
        raise NotFound()
    return rule


async def get_rule(session: AsyncSession, rule_id: uuid.UUID) -> RuleView:
    return rule_view(await _rule(session, rule_id))


async def create_rule(session: AsyncSession, data: RuleCreate) -> RuleView:
    team_id = data.team_id if data.strategy == AssignmentStrategy.ROUND_ROBIN else None
    user_id = data.user_id if data.strategy == AssignmentStrategy.USER else None
    await _check(session, data.strategy, team_id, user_id)
    position = data.position
    if position is None:
        position = (await session.scalar(select(func.max(AssignmentRule.position)))) or 0
        position += 1
    rule = AssignmentRule(
        name=data.name.strip(),
        position=position,
        strategy=data.strategy,
        team_id=team_id,
        user_id=user_id,
        source=data.source or None,
        region=data.region or None,
        is_active=data.is_active,
    )
    session.add(rule)
    await session.flush()
    return rule_view(rule)


async def update_rule(
    session: AsyncSession, rule_id: uuid.UUID, change: RuleUpdate, *, expected_version: int | None = None
) -> RuleView:
    rule = await _rule(session, rule_id, lock=True)
    ensure_version(rule, expected_version)
    values = {k: v for k, v in msgspec.structs.asdict(change).items() if v is not msgspec.UNSET}
    strategy = values.get("strategy", rule.strategy)
    team_id = values.get("team_id", rule.team_id) if strategy == AssignmentStrategy.ROUND_ROBIN else None
    user_id = values.get("user_id", rule.user_id) if strategy == AssignmentStrategy.USER else None
    await _check(session, strategy, team_id, user_id)
    values.update(team_id=team_id, user_id=user_id)
    if "name" in values:
        values["name"] = values["name"].strip()
    for key in ("source", "region"):
        if key in values:
            values[key] = values[key] or None
    for key, value in values.items():
        if getattr(rule, key) != value:
            setattr(rule, key, value)
    await session.flush()
    return rule_view(rule)


async def delete_rule(
    session: AsyncSession, rule_id: uuid.UUID, *, expected_version: int | None = None
) -> None:
    rule = await _rule(session, rule_id, lock=True)
    ensure_version(rule, expected_version)
    await session.delete(rule)
    await session.flush()
