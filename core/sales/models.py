"""Tables of the sales domain: pipelines and their ordered stages."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.kernel.clock import utcnow
from core.kernel.concurrency import Versioned
from core.kernel.models import Base, TenantOwned

__all__ = ["Pipeline", "Stage", "StageKind"]


class StageKind:
    OPEN = "open"
    WON = "won"
    LOST = "lost"
    ALL = (OPEN, WON, LOST)
    CLOSED = (WON, LOST)


class Pipeline(Versioned, TenantOwned, Base):
    """A sales process. Its stages belong to it: a change to a stage bumps the pipeline's
    version, so the pipeline's ETag covers the stages the client sees with it."""

    __tablename__ = "pipelines"
    __table_args__ = (
        # Exactly one default per tenant, held by the database on SQLite and PostgreSQL alike.
        Index(
            "uq_pipelines_one_default",
            "tenant_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    name: Mapped[str] = mapped_column(String(120))
    is_default: Mapped[bool] = mapped_column(default=False)
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    stages: Mapped[list[Stage]] = relationship(
        back_populates="pipeline",
        order_by="Stage.position",
        cascade="all, delete-orphan",
        lazy="raise",
        overlaps="pipeline",
    )


class Stage(TenantOwned, Base):
    """One step of a pipeline. Open stages come first; the won and the lost stage close it."""

    __tablename__ = "pipeline_stages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "pipeline_id"], ["pipelines.tenant_id", "pipelines.id"], ondelete="CASCADE"
        ),
        CheckConstraint("probability BETWEEN 0 AND 100", name="probability_percent"),
        CheckConstraint("kind IN ('open', 'won', 'lost')", name="kind"),
        CheckConstraint("rotting_days IS NULL OR rotting_days > 0", name="rotting_days_positive"),
        Index("ix_pipeline_stages_pipeline", "tenant_id", "pipeline_id", "position"),
    )

    pipeline_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(80))
    #: 1-based place in the pipeline; the service keeps positions dense.
    position: Mapped[int]
    #: Win probability in percent (0-100): weights the forecast.
    probability: Mapped[int]
    kind: Mapped[str] = mapped_column(String(10), default=StageKind.OPEN)
    #: An opportunity idle this many days in the stage is shown as rotting; None: never.
    rotting_days: Mapped[int | None]

    pipeline: Mapped[Pipeline] = relationship(back_populates="stages", overlaps="stages")
