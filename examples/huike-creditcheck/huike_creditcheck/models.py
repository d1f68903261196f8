"""The plugin's own table: one credit check request per new customer."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugins.sdk.models import Base, TenantOwned, UTCDateTime


class CreditCheck(TenantOwned, Base):
    __tablename__ = "creditcheck_requests"
    # One request per customer, however often the event is delivered.
    __table_args__ = (UniqueConstraint("tenant_id", "customer_id"),)

    customer_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
