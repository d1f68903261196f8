"""Commands and read models of outgoing webhooks (msgspec Structs at the edges)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec

from core.webhooks.models import OwnerKind

__all__ = [
    "TENANT",
    "AttemptView",
    "DeliveryDetail",
    "DeliveryFilter",
    "DeliveryView",
    "EndpointCreate",
    "EndpointUpdate",
    "EndpointView",
    "EndpointWithSecret",
    "Owner",
    "SecretRotation",
]

Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
Description = Annotated[str, msgspec.Meta(max_length=500)]
EventPattern = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Events = Annotated[list[EventPattern], msgspec.Meta(min_length=1, max_length=100)]
#: How long a rotated-out secret keeps signing (at most a week).
GraceSeconds = Annotated[int, msgspec.Meta(ge=0, le=7 * 24 * 3600)]
UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class Owner(msgspec.Struct, frozen=True):
    """Who an endpoint belongs to: the tenant's own configuration (``kind="tenant"``, no
    ``ref``), or an installed app (``kind="app"``, ``ref`` = the installation id). Endpoint
    functions see only the endpoints of the owner they are given."""

    kind: str = OwnerKind.TENANT
    ref: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.kind not in OwnerKind.ALL:
            raise ValueError(f"unknown endpoint owner kind {self.kind!r}")
        if (self.kind == OwnerKind.TENANT) != (self.ref is None):
            raise ValueError("a tenant's own endpoints have no owner ref; an app's have its installation id")

    @classmethod
    def app(cls, installation_id: uuid.UUID) -> Owner:
        return cls(kind=OwnerKind.APP, ref=installation_id)


#: The tenant's own endpoints.
TENANT = Owner()


class EndpointCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: Url
    #: Event names (``customers.created``), ``<domain>.*`` patterns, or ``["*"]`` for all.
    events: Events
    description: Description | None = None
    enabled: bool = True


class EndpointUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: Url | Unset = UNSET
    events: Events | Unset = UNSET
    description: Description | Unset | None = UNSET
    enabled: bool | Unset = UNSET


class SecretRotation(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: Seconds the old secret keeps signing beside the new one (0: it stops at once).
    grace_seconds: GraceSeconds = 0


class EndpointView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    owner_kind: str
    owner_ref: uuid.UUID | None
    #: Until when the previous secret still signs, after a rotation with a grace period.
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class EndpointWithSecret(EndpointView, kw_only=True):
    """The answer of creating an endpoint or rotating its secret: the only time the signing
    secret is shown."""

    secret: str


class AttemptView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    series: int
    number: int
    outcome: str
    status_code: int | None
    response_excerpt: str | None
    error: str | None
    duration_ms: int | None
    started_at: datetime
    finished_at: datetime | None


class DeliveryView(msgspec.Struct, kw_only=True):
    #: Sent as ``Huike-Delivery``: receivers deduplicate on it.
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_name: str
    status: str
    attempts: int
    series: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_response: str | None
    last_error: str | None
    last_duration_ms: int | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    replayed_at: datetime | None


class DeliveryDetail(DeliveryView, kw_only=True):
    #: The body as sent (JSON).
    payload: dict[str, Any]
    #: Every attempt of every series, oldest first.
    attempt_log: list[AttemptView]


class DeliveryFilter(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    endpoint_id: uuid.UUID | None = None
    status: str | None = None
    event_name: str | None = None
    event_id: uuid.UUID | None = None
