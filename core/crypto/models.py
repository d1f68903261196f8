"""Tenant data keys and the progress of tenant key rotations."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.kernel.clock import utcnow
from core.kernel.models import Base, TenantOwned

__all__ = ["KeyRotation", "KeyStatus", "TenantKey"]


class KeyStatus:
    #: The version new values are encrypted with (the highest active one).
    ACTIVE = "active"
    #: A rotation is moving values off this version; still readable.
    RETIRING = "retiring"
    #: Crypto-shredded: the key material is gone, values under it are unreadable forever.
    SHREDDED = "shredded"


class TenantKey(TenantOwned, Base):
    """One version of a tenant's data key and blind-index key, wrapped by a master key."""

    __tablename__ = "tenant_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default=KeyStatus.ACTIVE)
    master_key_id: Mapped[str | None] = mapped_column(String(100))
    wrapped_data_key: Mapped[bytes | None] = mapped_column(LargeBinary, info={"sensitive": True})
    wrapped_index_key: Mapped[bytes | None] = mapped_column(LargeBinary, info={"sensitive": True})
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KeyRotation(TenantOwned, Base):
    """A tenant key rotation; its cursor is saved with every batch, so a rerun continues."""

    __tablename__ = "key_rotations"

    from_version: Mapped[int]
    to_version: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default="running")
    #: The table being re-encrypted, and the last row id done in it.
    table_name: Mapped[str | None] = mapped_column(String(100))
    last_id: Mapped[uuid.UUID | None]
    rows_done: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
