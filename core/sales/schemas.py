"""Commands and read models of the sales domain."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec

__all__ = [
    "BoardColumn",
    "BoardView",
    "CurrencyTotal",
    "Figures",
    "ForecastLine",
    "ForecastView",
    "FunnelStep",
    "FunnelView",
    "LostRequest",
    "OpportunityCreate",
    "OpportunityFilter",
    "OpportunityUpdate",
    "OpportunityView",
    "PipelineCreate",
    "PipelineUpdate",
    "PipelineView",
    "ProductInterest",
    "ReopenRequest",
    "StageCreate",
    "StageMove",
    "StageOrder",
    "StageTime",
    "StageUpdate",
    "StageView",
    "TransferRequest",
    "WinRate",
    "WinRateView",
    "WonRequest",
]

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Short = Annotated[str, msgspec.Meta(max_length=80)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
Currency = Annotated[str, msgspec.Meta(min_length=3, max_length=3, examples=["CNY"])]
Percent = Annotated[int, msgspec.Meta(ge=0, le=100, description="Win probability in percent")]
RottingDays = Annotated[int, msgspec.Meta(ge=1, le=3650)]


class StageView(msgspec.Struct):
    id: uuid.UUID
    name: str
    position: int
    probability: int
    kind: str
    rotting_days: int | None


class PipelineView(msgspec.Struct):
    id: uuid.UUID
    name: str
    is_default: bool
    archived_at: datetime | None
    created_at: datetime
    #: Ordered: open stages first, then the won and the lost stage.
    stages: list[StageView]
    #: The ETag of the pipeline, stages included.
    version: int


class StageCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(examples=["方案报价", "Proposal"])]
    probability: Percent
    #: ``open``, ``won`` or ``lost``. A new pipeline takes exactly one won and one lost stage;
    #: a stage added to an existing pipeline is always open.
    kind: str = "open"
    rotting_days: RottingDays | None = None
    #: Where to insert an open stage (1-based, among the open stages); last open if omitted.
    position: int | None = None


class StageUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    probability: Percent | msgspec.UnsetType = msgspec.UNSET
    rotting_days: RottingDays | msgspec.UnsetType | None = msgspec.UNSET


class StageOrder(msgspec.Struct, forbid_unknown_fields=True):
    #: Every stage of the pipeline, once, in the new order (open ones first, won and lost last).
    stage_ids: list[uuid.UUID]


class PipelineCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(examples=["大客户销售", "Enterprise sales"])]
    #: The stages in order. Omitted: the standard stages in ``locale``.
    stages: list[StageCreate] | None = None
    #: Language of the standard stages when ``stages`` is omitted (``zh-CN`` or ``en``).
    locale: str = "zh-CN"


class PipelineUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: str | msgspec.UnsetType = msgspec.UNSET


# --- opportunities ------------------------------------------------------------------------


class ProductInterest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """A product the customer is interested in: free text until orders and inventory exist."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    sku: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    #: Greater than 0 (a decimal string such as "2" or "1.5").
    quantity: Decimal | None = None


Products = Annotated[list[ProductInterest], msgspec.Meta(max_length=50)]


class OpportunityCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["年度软件采购"])]
    customer_id: uuid.UUID
    contact_id: uuid.UUID | None = None
    #: Default: the default pipeline (or the pipeline of ``stage_id``).
    pipeline_id: uuid.UUID | None = None
    #: An open stage. Default: the pipeline's first open stage.
    stage_id: uuid.UUID | None = None
    #: A decimal string such as "120000.00", in ``currency``'s minor units.
    amount: Decimal = Decimal(0)
    #: ISO 4217. Default: the business's currency (CNY).
    currency: Currency | None = None
    expected_close_date: date | None = None
    #: A user id; default the caller.
    owner_id: uuid.UUID | None = None
    #: Default: the owner's team.
    team_id: uuid.UUID | None = None
    source: Short | None = None
    products: Products = msgspec.field(default_factory=list)
    #: commit, best_case, pipeline or omitted; default derived from the stage's probability.
    forecast_category: str | None = None
    custom_fields: dict[str, Any] = msgspec.field(default_factory=dict)


class OpportunityUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Stage, status and owner change through their own routes (move, won/lost/reopen, transfer)."""

    name: Name | Unset = UNSET
    contact_id: uuid.UUID | Unset | None = UNSET
    amount: Decimal | Unset = UNSET
    currency: Currency | Unset = UNSET
    expected_close_date: date | Unset | None = UNSET
    team_id: uuid.UUID | Unset | None = UNSET
    source: Short | Unset | None = UNSET
    products: Products | Unset = UNSET
    #: None: back to the category derived from the stage.
    forecast_category: str | Unset | None = UNSET
    custom_fields: dict[str, Any] | Unset = UNSET


class StageTime(msgspec.Struct, kw_only=True):
    """One stay in a stage; ``seconds`` counts up to now while it is the current stage."""

    stage_id: uuid.UUID
    pipeline_id: uuid.UUID
    entered_at: datetime
    left_at: datetime | None
    seconds: int


class OpportunityView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    customer_id: uuid.UUID
    contact_id: uuid.UUID | None
    pipeline_id: uuid.UUID
    stage_id: uuid.UUID
    #: The current stage's win probability, in percent.
    probability: int
    amount: Decimal
    currency: str
    #: amount × probability, to the currency's minor unit.
    weighted_amount: Decimal
    expected_close_date: date | None
    owner_id: uuid.UUID
    team_id: uuid.UUID | None
    source: str | None
    products: list[ProductInterest]
    #: The category that counts (set, or derived from the probability).
    forecast_category: str
    #: True when a person set the category; False when it follows the stage.
    forecast_category_set: bool
    custom_fields: dict[str, Any]
    status: str
    won_at: datetime | None
    lost_at: datetime | None
    lost_reason: str | None
    stage_entered_at: datetime
    #: Idle in its open stage for longer than the stage's ``rotting_days``.
    rotting: bool
    created_at: datetime
    updated_at: datetime
    version: int
    #: Shown on a single opportunity only: every stay, oldest first.
    stage_history: list[StageTime] | Unset = UNSET


class OpportunityFilter(msgspec.Struct, kw_only=True):
    q: str | None = None
    pipeline_id: uuid.UUID | None = None
    stage_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    status: str | None = None
    customer_id: uuid.UUID | None = None
    #: ``expected_close_date`` in ``[from, to]`` (inclusive dates).
    close_from: date | None = None
    close_to: date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    currency: str | None = None
    custom: list[tuple[str, str]] = msgspec.field(default_factory=list)


class StageMove(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: A stage of the opportunity's pipeline or of another active one; the won or lost stage
    #: closes the opportunity (a lost stage needs ``lost_reason``).
    stage_id: uuid.UUID
    lost_reason: Reason | None = None


class WonRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: The final amount, if it changed at the last minute.
    amount: Decimal | None = None


class LostRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Reason


class ReopenRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: An open stage of its pipeline; default the last open stage it was in.
    stage_id: uuid.UUID | None = None


class TransferRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    to_owner_id: uuid.UUID


class CurrencyTotal(msgspec.Struct, kw_only=True):
    currency: str
    count: int
    amount: Decimal
    weighted_amount: Decimal


class BoardColumn(msgspec.Struct, kw_only=True):
    stage: StageView
    #: Open opportunities in the stage (within the caller's scope), at most ``per_stage``.
    opportunities: list[OpportunityView]
    #: How many there are in all; more than shown when ``count > len(opportunities)``.
    count: int
    #: Per currency, over all of them (not only those shown).
    totals: list[CurrencyTotal]


class BoardView(msgspec.Struct, kw_only=True):
    pipeline_id: uuid.UUID
    name: str
    #: The open stages, in order.
    columns: list[BoardColumn]
    totals: list[CurrencyTotal]


# --- reports ------------------------------------------------------------------------------


class Figures(msgspec.Struct, kw_only=True):
    count: int
    amount: Decimal
    #: amount × stage probability, summed exactly and rounded once to the currency's unit.
    weighted_amount: Decimal


class ForecastLine(msgspec.Struct, kw_only=True):
    #: The month (``2027-01``; None: no expected close date), the owner's or the team's id
    #: (None: no team); None on the totals.
    key: str | None
    currency: str
    commit: Figures
    best_case: Figures
    pipeline: Figures
    #: The three categories together (``omitted`` opportunities are left out of the forecast).
    total: Figures


class ForecastView(msgspec.Struct, kw_only=True):
    by_month: list[ForecastLine]
    by_owner: list[ForecastLine]
    by_team: list[ForecastLine]
    totals: list[ForecastLine]


class FunnelStep(msgspec.Struct, kw_only=True):
    stage: StageView
    #: Opportunities of the cohort that reached this stage (or a later one, or won).
    count: int
    #: Their amounts, per currency.
    amounts: list[CurrencyTotal]
    #: Percent of the previous step's count that reached this one (one decimal); None first.
    conversion_rate: Decimal | None


class WinRate(msgspec.Struct, kw_only=True):
    #: The source (or owner id); None on the overall line and for opportunities without one.
    key: str | None
    won: int
    lost: int
    #: Percent of the closed ones that were won (one decimal); None when none closed.
    win_rate: Decimal | None


class FunnelView(msgspec.Struct, kw_only=True):
    pipeline_id: uuid.UUID
    #: Opportunities of the pipeline created in the range (within the caller's scope).
    cohort: int
    #: The open stages in order, then the won stage.
    steps: list[FunnelStep]
    lost: int
    #: Average days from creation to the win, over the cohort's won ones (one decimal).
    average_cycle_days: Decimal | None
    win_rate: WinRate
    win_rate_by_source: list[WinRate]


class WinRateView(msgspec.Struct, kw_only=True):
    overall: WinRate
    by_source: list[WinRate]
    by_owner: list[WinRate]
