"""Declarative base, column types shared by every domain, and the tenant registry table.

A model that belongs to a tenant inherits :class:`TenantOwned`; that single choice gives it
the ``(tenant_id, id)`` primary key, the ORM tenant filter, and (through the migration
helpers) PostgreSQL row-level security.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, MetaData, String, TypeDecorator, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from core.kernel.clock import as_utc, utcnow
from core.kernel.concurrency import Versioned
from core.kernel.ids import new_id

__all__ = ["DEFAULT_TIMEZONE", "Base", "JSONType", "Tenant", "TenantOwned", "TenantStatus", "UTCDateTime"]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused; use core.kernel.clock.utcnow()")
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    @property
    def python_type(self) -> type[datetime]:
        """``datetime`` (the decorator's own answer would be ``object``): the pagination
        cursor turns its text back into the sort key by this type."""
        return datetime


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        uuid.UUID: Uuid(),
        datetime: UTCDateTime(),
    }


class TenantStatus:
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ALL = (ACTIVE, SUSPENDED)


#: The time zone of a new business (Huike's businesses are mostly in mainland China).
DEFAULT_TIMEZONE = "Asia/Shanghai"


class Tenant(Versioned, Base):
    """A customer business. Platform-level: not itself tenant-owned."""

    __tablename__ = "tenants"
    #: A platform table, audited in the tenant's own chain (see ``core/audit/capture.py``).
    __audited__: ClassVar[bool] = True

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, sort_order=-10)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=TenantStatus.ACTIVE)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    plan: Mapped[str] = mapped_column(String(40), default="free")
    require_two_factor: Mapped[bool] = mapped_column(default=False)
    #: IANA time zone of the business: the times its reminders (mail, text messages) show.
    timezone: Mapped[str] = mapped_column(
        String(64), default=DEFAULT_TIMEZONE, server_default=DEFAULT_TIMEZONE
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TenantOwned:
    """Mixin for every table that belongs to one tenant.

    The primary key is ``(tenant_id, id)``; foreign keys between tenant-owned tables must be
    composite and include ``tenant_id`` (see ``tests/core/kernel/test_tenant_schema.py``).
    """

    __tenant_owned__: ClassVar[bool] = True
    #: Tenant-owned records are audited; a technical table opts out with ``False``.
    __audited__: ClassVar[bool] = True

    @declared_attr
    @classmethod
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True, sort_order=-20)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, sort_order=-10)
