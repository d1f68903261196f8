"""Commands and read models of the customers package (msgspec Structs at the edges)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec

__all__ = [
    "ContactCreate",
    "ContactUpdate",
    "ContactView",
    "CustomerCreate",
    "CustomerFilter",
    "CustomerUpdate",
    "CustomerView",
    "MergeRequest",
    "PoolRulesUpdate",
    "PoolRulesView",
    "ReleaseRequest",
    "TransferRequest",
    "TransferResult",
]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Short = Annotated[str, msgspec.Meta(max_length=80)]
Level = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Tags = Annotated[list[Tag], msgspec.Meta(max_length=50)]
Text = Annotated[str, msgspec.Meta(max_length=500)]
#: Timezone-aware (naive datetimes are refused with 422).
Moment = Annotated[datetime, msgspec.Meta(tz=True)]
UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class ContactCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    title: Short | None = None
    phone: Short | None = None
    email: Short | None = None
    is_primary: bool = False
    custom_fields: dict[str, Any] = msgspec.field(default_factory=dict)


class ContactUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | Unset = UNSET
    title: Short | Unset | None = UNSET
    phone: Short | Unset | None = UNSET
    email: Short | Unset | None = UNSET
    is_primary: bool | Unset = UNSET
    custom_fields: dict[str, Any] | Unset = UNSET


class ContactView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    title: str | None
    phone: str | None
    email: str | None
    is_primary: bool
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int


class CustomerCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: str
    name: Name
    level: Level | None = None
    source: Short | None = None
    industry: Short | None = None
    stage: str = "lead"
    tags: Tags = msgspec.field(default_factory=list)
    #: A user id; defaults to the caller.
    owner_id: uuid.UUID | None = None
    #: Defaults to the owner's team.
    team_id: uuid.UUID | None = None
    phone: Short | None = None
    email: Short | None = None
    address: Text | None = None
    id_number: Short | None = None
    last_contacted_at: Moment | None = None
    custom_fields: dict[str, Any] = msgspec.field(default_factory=dict)
    contacts: Annotated[list[ContactCreate], msgspec.Meta(max_length=50)] = msgspec.field(
        default_factory=list
    )


class CustomerUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Owner changes go through a transfer (``customers.transfer``), not an update."""

    kind: str | Unset = UNSET
    name: Name | Unset = UNSET
    level: Level | Unset | None = UNSET
    source: Short | Unset | None = UNSET
    industry: Short | Unset | None = UNSET
    stage: str | Unset = UNSET
    tags: Tags | Unset = UNSET
    team_id: uuid.UUID | Unset | None = UNSET
    phone: Short | Unset | None = UNSET
    email: Short | Unset | None = UNSET
    address: Text | Unset | None = UNSET
    id_number: Short | Unset | None = UNSET
    last_contacted_at: Moment | Unset | None = UNSET
    custom_fields: dict[str, Any] | Unset = UNSET


class CustomerView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    kind: str
    name: str
    level: str | None
    source: str | None
    industry: str | None
    stage: str
    tags: list[str]
    #: Null while the customer is in the public pool.
    owner_id: uuid.UUID | None
    team_id: uuid.UUID | None
    phone: str | None
    email: str | None
    address: str | None
    id_number: str | None
    custom_fields: dict[str, Any]
    last_contacted_at: datetime | None
    last_deal_at: datetime | None
    #: When the current owner got it (the pool's clock starts here).
    assigned_at: datetime | None
    in_pool: bool
    #: While in the pool: since when, why (``no_follow_up``, ``no_deal``, ``released``), the
    #: releaser's note, who released it (null: the periodic job) and whose it was.
    pool_entered_at: datetime | None
    pool_reason: str | None
    pool_note: str | None
    pool_released_by: uuid.UUID | None
    pool_previous_owner_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    version: int
    #: True when phone, email, address and ID number are masked for this caller.
    masked: bool
    contacts: list[ContactView] | Unset = UNSET


class CustomerFilter(msgspec.Struct, kw_only=True):
    """List filters; every one is optional and they combine with AND."""

    q: str | None = None
    name_prefix: str | None = None
    phone: str | None = None
    email: str | None = None
    tag: str | None = None
    owner_id: uuid.UUID | None = None
    level: str | None = None
    stage: str | None = None
    kind: str | None = None
    last_contacted_from: datetime | None = None
    last_contacted_to: datetime | None = None
    #: ``cf.<key>`` / ``cf.<key>__<op>`` query parameters: filters on custom fields.
    custom: list[tuple[str, str]] = msgspec.field(default_factory=list)


class MergeRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: The customer folded into the one in the path, then deleted.
    other_id: uuid.UUID


class TransferRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Give customers to ``to_owner_id``: the listed ``customer_ids``, or every customer of
    ``from_owner_id`` (optionally narrowed by ``stage``, ``level``, ``tag``)."""

    to_owner_id: uuid.UUID
    customer_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=1000)] | None = None
    from_owner_id: uuid.UUID | None = None
    stage: str | None = None
    level: str | None = None
    tag: str | None = None


class TransferResult(msgspec.Struct, kw_only=True):
    transferred: list[uuid.UUID]


Days = Annotated[int, msgspec.Meta(ge=1, le=3650)]


class PoolRulesView(msgspec.Struct, kw_only=True):
    """The public pool's rules (``version`` 0: never saved, the defaults)."""

    enabled: bool
    #: Level (``A``, ``B``…) → days without follow-up after which its customers return to
    #: the pool; null: never.
    follow_up_days: dict[str, int | None]
    #: For customers without a level or with a level not listed; null: never.
    default_follow_up_days: int | None
    #: Also return customers with no deal won for this many days; null: no such rule.
    no_deal_days: int | None
    #: Tell the owner this many days before; 0: no notice.
    notice_days: int
    #: The most customers one rep may own to claim another from the pool; null: no cap.
    max_owned_customers: int | None
    updated_at: datetime | None
    version: int


class PoolRulesUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The whole rule set (``PUT``): a field left out takes its default."""

    enabled: bool = False
    follow_up_days: dict[str, Days | None] = msgspec.field(default_factory=dict)
    default_follow_up_days: Days | None = None
    no_deal_days: Days | None = None
    notice_days: Annotated[int, msgspec.Meta(ge=0, le=365)] = 0
    max_owned_customers: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None


class ReleaseRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Text | None = None
