"""The rules every pipeline keeps, checked on the layout a change would leave behind.

A pipeline has at least one open stage, exactly one won stage (probability 100) and exactly
one lost stage (probability 0), and the won and lost stages come last.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.kernel.errors import DomainError, Invalid
from core.sales.models import Opportunity, StageKind

__all__ = ["check_layout", "clean_stage_name", "stages_in_use"]


def clean_stage_name(name: str, *, field: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 80:
        raise Invalid("Stage name must be 1 to 80 characters.", field=field, code="invalid_length")
    return name


def check_layout(
    stages: Sequence[tuple[str, int]], *, field: str, status: type[DomainError] = Invalid
) -> None:
    """Refuse an ordered list of ``(kind, probability)`` that breaks the rules.

    Raises:
        DomainError: of class ``status`` (422 by default), naming the rule broken.
    """
    kinds = [kind for kind, _ in stages]
    for closed, word in ((StageKind.WON, "won"), (StageKind.LOST, "lost")):
        if kinds.count(closed) != 1:
            raise status(
                f"A pipeline has exactly one {word} stage ({kinds.count(closed)} here).",
                field=field,
                code=f"{word}_stage_count",
            )
    if StageKind.OPEN not in kinds:
        raise status("A pipeline needs at least one open stage.", field=field, code="open_stage_required")
    if set(kinds[-2:]) != set(StageKind.CLOSED):
        raise status(
            "The won and lost stages come last, after every open stage.",
            field=field,
            code="closed_stages_last",
        )
    for kind, probability in stages:
        expected = {StageKind.WON: 100, StageKind.LOST: 0}.get(kind)
        if expected is not None and probability != expected:
            raise status(
                f"The {kind} stage has a win probability of {expected}.",
                field=field,
                code="closed_stage_probability",
            )


async def stages_in_use(session: AsyncSession, stage_ids: Sequence[uuid.UUID]) -> bool:
    """Whether opportunities (open or closed) sit in any of ``stage_ids``."""
    found = await session.scalar(select(Opportunity.id).where(Opportunity.stage_id.in_(stage_ids)).limit(1))
    return found is not None
