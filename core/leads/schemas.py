"""Commands and read models of the leads package (msgspec Structs at the edges)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec

__all__ = [
    "AssignRequest",
    "ConvertRequest",
    "ConvertResult",
    "FormCreate",
    "FormUpdate",
    "FormView",
    "LeadCreate",
    "LeadFilter",
    "LeadUpdate",
    "LeadView",
    "OpportunityDraft",
    "RuleCreate",
    "RuleUpdate",
    "RuleView",
    "StatusChange",
    "Submission",
]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Short = Annotated[str, msgspec.Meta(max_length=80)]
Title = Annotated[str, msgspec.Meta(max_length=120)]
Message = Annotated[str, msgspec.Meta(max_length=2000)]
Reason = Annotated[str, msgspec.Meta(max_length=500)]
UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class LeadCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    company: Name | None = None
    title: Title | None = None
    phone: Short | None = None
    email: Short | None = None
    message: Message | None = None
    source: Short | None = None
    region: Short | None = None
    #: A user id. Without it the assignment rules choose; with no rule matching, the caller.
    owner_id: uuid.UUID | None = None
    custom_fields: dict[str, Any] = msgspec.field(default_factory=dict)


class LeadUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Owner changes go through ``/assign``; status changes through ``/status``."""

    name: Name | Unset = UNSET
    company: Name | Unset | None = UNSET
    title: Title | Unset | None = UNSET
    phone: Short | Unset | None = UNSET
    email: Short | Unset | None = UNSET
    message: Message | Unset | None = UNSET
    source: Short | Unset | None = UNSET
    region: Short | Unset | None = UNSET
    custom_fields: dict[str, Any] | Unset = UNSET


class LeadView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    company: str | None
    title: str | None
    phone: str | None
    email: str | None
    message: str | None
    source: str | None
    region: str | None
    status: str
    status_reason: str | None
    owner_id: uuid.UUID | None
    team_id: uuid.UUID | None
    form_id: uuid.UUID | None
    custom_fields: dict[str, Any]
    converted_at: datetime | None
    converted_customer_id: uuid.UUID | None
    converted_contact_id: uuid.UUID | None
    converted_opportunity_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    version: int
    #: True when phone, email and message are masked for this caller.
    masked: bool


class LeadFilter(msgspec.Struct, kw_only=True):
    q: str | None = None
    phone: str | None = None
    email: str | None = None
    status: str | None = None
    source: str | None = None
    region: str | None = None
    owner_id: uuid.UUID | None = None
    #: True: only leads nobody owns yet (needs ``leads.assign``).
    unassigned: bool | None = None
    form_id: uuid.UUID | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    custom: list[tuple[str, str]] = msgspec.field(default_factory=list)


class StatusChange(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: new, contacted, qualified or unqualified (``converted`` comes from a conversion).
    status: str
    #: Required when the lead is unqualified.
    reason: Reason | None = None


class AssignRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    to_owner_id: uuid.UUID


class OpportunityDraft(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The opportunity a conversion opens (defaults: the lead's company or name, the default
    pipeline's first stage)."""

    name: Name | None = None
    amount: Decimal | None = None
    #: ISO 4217; default the business's currency (CNY).
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)] | None = None
    pipeline_id: uuid.UUID | None = None
    stage_id: uuid.UUID | None = None
    expected_close_date: date | None = None


class ConvertRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Convert into a new customer (a company when the lead names one, else an individual),
    or attach to ``customer_id``; a contact is added either way."""

    customer_id: uuid.UUID | None = None
    #: Create the customer although one with the same phone, email or company name exists.
    allow_duplicate: bool = False
    opportunity: OpportunityDraft | None = None


class ConvertResult(msgspec.Struct, kw_only=True):
    lead: LeadView
    customer_id: uuid.UUID
    contact_id: uuid.UUID
    opportunity_id: uuid.UUID | None


class FormCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    source: Short | None = None
    honeypot_field: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")] = "website"


class FormUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)] | Unset = UNSET
    source: Short | Unset | None = UNSET
    honeypot_field: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")] | Unset = UNSET
    is_active: bool | Unset = UNSET


class FormView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    source: str | None
    honeypot_field: str
    is_active: bool
    created_at: datetime
    version: int
    #: The public token, shown once: on creation and on rotation.
    token: str | Unset = UNSET
    #: Where the web page posts: ``/api/v1/public/lead-forms/<token>``.
    submit_path: str | Unset = UNSET


class Submission(msgspec.Struct, kw_only=True):
    """What a web form may send; other fields are ignored (pages carry their own)."""

    name: Name
    company: Name | None = None
    title: Title | None = None
    phone: Short | None = None
    email: Short | None = None
    message: Message | None = None
    region: Short | None = None


class RuleCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    strategy: str
    team_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    source: Short | None = None
    region: Short | None = None
    #: 1-based; defaults to last.
    position: Annotated[int, msgspec.Meta(ge=1)] | None = None
    is_active: bool = True


class RuleUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)] | Unset = UNSET
    strategy: str | Unset = UNSET
    team_id: uuid.UUID | Unset | None = UNSET
    user_id: uuid.UUID | Unset | None = UNSET
    source: Short | Unset | None = UNSET
    region: Short | Unset | None = UNSET
    position: Annotated[int, msgspec.Meta(ge=1)] | Unset = UNSET
    is_active: bool | Unset = UNSET


class RuleView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    position: int
    strategy: str
    team_id: uuid.UUID | None
    user_id: uuid.UUID | None
    source: str | None
    region: str | None
    is_active: bool
    created_at: datetime
    version: int
