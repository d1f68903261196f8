"""The demo business's believable data, written through the same use cases the API calls
(so it is encrypted, scoped, audited and evented like real data): customers with contacts in
Chinese and English, leads from the web form and trade fairs, opportunities across the
pipeline's stages with their history spread over the past months.

Deterministic: the same seed gives the same business on every machine.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.context import ActorType, audit_context
from core.customers import pool, pool_rules
from core.customers import service as customers
from core.customers.models import Customer
from core.customers.schemas import ContactCreate, CustomerCreate, PoolRulesUpdate, ReleaseRequest
from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.tenancy import tenant_context
from core.leads import forms
from core.leads import service as leads
from core.leads.schemas import FormCreate, LeadCreate, StatusChange
from core.sales import moves, opportunities
from core.sales.models import Opportunity, Pipeline, Stage, StageKind, StageVisit
from core.sales.schemas import LostRequest, OpportunityCreate, ProductInterest, StageMove, WonRequest
from core.security.principal import Principal
from core.security.service import load_member_principal

__all__ = ["DemoStaff", "seed_demo_data"]

CUSTOMERS = 300
LEADS = 60
OPPORTUNITIES = 150
#: Customers the demo's reps gave back to the public pool.
IN_POOL = 20
_RELEASE_REASONS = [
    "暂无采购需求 No need for now",
    "联系不上 Cannot reach them",
    "预算冻结 Budget frozen",
    None,
]

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "军", "婷", "强", "丽", "涛", "明"]
_EN_FIRST = ["Emily", "James", "Olivia", "Daniel", "Sophia", "Michael", "Grace", "Lucas", "Chloe", "Ryan"]
_EN_LAST = ["Chen", "Smith", "Wang", "Brown", "Li", "Taylor", "Zhang", "Wilson", "Liu", "Evans"]
_CITIES = ["上海", "杭州", "苏州", "南京", "宁波", "无锡", "合肥", "深圳", "北京", "广州"]
_WORDS = [
    "鑫源",
    "华诚",
    "恒泰",
    "瑞丰",
    "宏达",
    "海纳",
    "博远",
    "金桥",
    "新元",
    "嘉禾",
    "远航",
    "同德",
    "天成",
]
_KINDS = ["贸易有限公司", "科技有限公司", "实业有限公司", "电子有限公司", "食品有限公司", "包装有限公司"]
_EN_COMPANIES = [
    "Northwind Traders",
    "Contoso Pacific",
    "Fabrikam Asia",
    "Blue Yonder Foods",
    "Litware Electronics",
    "Adventure Works Shanghai",
    "Tailspin Packaging",
    "Wide World Importers",
    "Proseware Labs",
    "Coho Vineyard Trading",
]
_INDUSTRIES = [
    "零售 Retail",
    "制造 Manufacturing",
    "餐饮 Food & Beverage",
    "电子 Electronics",
    "物流 Logistics",
]
_SOURCES = ["展会 expo", "官网 website", "转介绍 referral", "电话营销 cold call"]
_TAGS = ["VIP", "回头客", "价格敏感", "大客户", "华东", "出口"]
_TITLES = ["采购经理 Purchasing Manager", "总经理 General Manager", "财务 Finance", "行政 Office Manager"]
_REGIONS = ["华东 East", "华南 South", "华北 North"]
_PRODUCTS = [
    ("ERP 标准版 ERP Standard", "ERP-STD"),
    ("CRM 专业版 CRM Pro", "CRM-PRO"),
    ("实施服务 Implementation", "SVC-IMP"),
    ("年度维护 Annual support", "SVC-SUP"),
    ("条码扫描枪 Barcode scanner", "HW-SCAN"),
]
_DEALS = [
    "年度采购 Annual order",
    "系统升级 System upgrade",
    "新门店 New stores",
    "试点项目 Pilot",
    "续约 Renewal",
]
_LOST_REASONS = [
    "价格太高 Price too high",
    "选择了竞争对手 Went with a competitor",
    "预算取消 Budget cut",
    "没有回应 No response",
]


@dataclass
class DemoStaff:
    """User ids of the demo business's people, by role."""

    owner: uuid.UUID
    manager: uuid.UUID
    reps: list[uuid.UUID]
    sellers: list[uuid.UUID] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sellers = [*self.reps, self.manager]


class _Names:
    """Unique, plausible names and phone numbers from one random source."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()
        self.phone_serial = 0

    def person(self) -> str:
        if self.rng.random() < 0.2:
            return f"{self.rng.choice(_EN_FIRST)} {self.rng.choice(_EN_LAST)}"
        return self.rng.choice(_SURNAMES) + "".join(self.rng.choices(_GIVEN, k=self.rng.choice((1, 2))))

    def company(self) -> str:
        for _ in range(1000):
            if self.rng.random() < 0.12:
                name = (
                    f"{self.rng.choice(_EN_COMPANIES)} {self.rng.choice(('Co.', 'Ltd.', 'Group', 'Trading'))}"
                )
            else:
                name = self.rng.choice(_CITIES) + self.rng.choice(_WORDS) + self.rng.choice(_KINDS)
            if name not in self.used:
                self.used.add(name)
                return name
        raise RuntimeError("ran out of demo company names")

    def phone(self) -> str:
        self.phone_serial += 1
        prefix = f"1{self.rng.choice('3578')}{self.rng.randrange(10)}"
        return f"+86 {prefix} {self.phone_serial:04d} {self.rng.randrange(10000):04d}"

    def email(self, person: str) -> str:
        local = "".join(ch for ch in person.lower() if ch.isascii() and ch.isalnum()) or "contact"
        self.phone_serial += 1
        return f"{local}{self.phone_serial}@example.com"


@contextmanager
def _as(user_id: uuid.UUID) -> Iterator[None]:
    with audit_context(ActorType.USER, user_id):
        yield


async def _principal(session: AsyncSession, user_id: uuid.UUID) -> Principal:
    return await load_member_principal(session, user_id)


async def _customers(db: Database, staff: DemoStaff, names: _Names) -> list[uuid.UUID]:
    rng = names.rng
    created: list[uuid.UUID] = []
    now = utcnow()
    # One transaction per person keeps the seed fast; each customer is still its own use case.
    for index, owner in enumerate(staff.sellers):
        with _as(owner):
            async with db.transaction() as session:
                principal = await _principal(session, owner)
                for _ in range(index, CUSTOMERS, len(staff.sellers)):
                    view = await customers.create_customer(
                        session, principal, _customer(names, now), allow_duplicate=True
                    )
                    # Customers arrived over the past year, not all this second.
                    await session.execute(
                        update(Customer)
                        .where(Customer.id == view.id)
                        .values(created_at=now - timedelta(days=rng.randrange(80, 365)))
                    )
                    created.append(view.id)
    return created


async def _pool(db: Database, staff: DemoStaff, names: _Names, created: list[uuid.UUID]) -> None:
    """The business's pool rules, and customers the owner put back into the pool (reps left them)."""
    rules = PoolRulesUpdate(
        enabled=True,
        follow_up_days={"A": 60, "B": 30, "C": 15},
        default_follow_up_days=30,
        notice_days=3,
        max_owned_customers=100,
    )
    with _as(staff.owner):
        async with db.transaction() as session:
            await pool_rules.update_rules(session, rules)
            principal = await _principal(session, staff.owner)
            for customer_id in names.rng.sample(created, k=IN_POOL):
                reason = ReleaseRequest(reason=names.rng.choice(_RELEASE_REASONS))
                await pool.release_customer(session, principal, customer_id, reason)


def _customer(names: _Names, now: datetime) -> CustomerCreate:
    rng = names.rng
    individual = rng.random() < 0.15
    name = names.person() if individual else names.company()
    contacts = []
    for n in range(0 if individual else rng.choice((1, 1, 2, 3))):
        person = names.person()
        contacts.append(
            ContactCreate(
                name=person,
                title=rng.choice(_TITLES),
                phone=names.phone(),
                email=names.email(person),
                is_primary=n == 0,
            )
        )
    return CustomerCreate(
        kind="individual" if individual else "company",
        name=name,
        level=rng.choices(("A", "B", "C"), weights=(2, 5, 3))[0],
        source=rng.choice(_SOURCES),
        industry=rng.choice(_INDUSTRIES),
        stage=rng.choices(("lead", "prospect", "customer", "churned"), weights=(2, 4, 4, 1))[0],
        tags=rng.sample(_TAGS, k=rng.choice((0, 1, 1, 2))),
        phone=names.phone() if individual or rng.random() < 0.5 else None,
        email=names.email(name) if individual else None,
        last_contacted_at=now - timedelta(days=rng.randrange(0, 75), hours=rng.randrange(24)),
        contacts=contacts,
    )


async def _leads(db: Database, staff: DemoStaff, names: _Names) -> None:
    rng = names.rng
    with _as(staff.manager):
        async with db.transaction() as session:
            form = await forms.create_form(
                session, FormCreate(name="官网咨询 Website enquiry", source="官网 website")
            )
    assert isinstance(form.token, str)  # noqa: S101 - a new form always shows its token
    owned: dict[uuid.UUID, list[LeadCreate]] = {rep: [] for rep in staff.reps}
    for i in range(LEADS):
        person = names.person()
        data = LeadCreate(
            name=person,
            company=names.company() if rng.random() < 0.7 else None,
            title=rng.choice(_TITLES),
            phone=names.phone(),
            email=names.email(person),
            source=rng.choice(_SOURCES),
            region=rng.choice(_REGIONS),
            message="想了解批量采购的报价 / Asking for a volume quote." if rng.random() < 0.4 else None,
        )
        if i % 5 == 0:  # from the web form, waiting for the manager to hand it out
            await forms.submit(db, form.token, _form_fields(data), ip=None)
        else:
            owned[staff.reps[i % len(staff.reps)]].append(data)
    for owner, batch in owned.items():
        with _as(owner):
            async with db.transaction() as session:
                principal = await _principal(session, owner)
                for data in batch:
                    lead = await leads.create_lead(session, principal, _owned(data, owner))
                    status = rng.choices(
                        ("new", "contacted", "qualified", "unqualified"), weights=(4, 3, 2, 1)
                    )[0]
                    if status != "new":
                        reason = "预算不足 No budget" if status == "unqualified" else None
                        change = StatusChange(status=status, reason=reason)
                        await leads.change_status(session, principal, lead.id, change)


def _owned(data: LeadCreate, owner: uuid.UUID) -> LeadCreate:
    return msgspec.structs.replace(data, owner_id=owner)


def _form_fields(data: LeadCreate) -> dict[str, object]:
    """What a web page would post for this lead."""
    return {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None and k != "custom_fields"}


async def _opportunities(db: Database, staff: DemoStaff, names: _Names) -> None:
    """Deals of every seller on their own customers: most open across the stages, about a
    quarter won and some lost with a reason; created over the past months, their stage
    history spread from creation to now (or to the close), closes expected in the next months."""
    rng = names.rng
    now = utcnow()
    for index, owner in enumerate(staff.sellers):
        with _as(owner):
            async with db.transaction() as session:
                principal = await _principal(session, owner)
                pipeline = await session.scalar(select(Pipeline).where(Pipeline.is_default.is_(True)))
                if pipeline is None:
                    return
                stages = list(
                    (
                        await session.scalars(
                            select(Stage).where(Stage.pipeline_id == pipeline.id).order_by(Stage.position)
                        )
                    ).all()
                )
                open_stages = [s for s in stages if s.kind == StageKind.OPEN]
                # The seller's own customers (not those given back to the pool), oldest first.
                mine = list(
                    (
                        await session.scalars(
                            select(Customer.id).where(Customer.owner_id == owner).order_by(Customer.id)
                        )
                    ).all()
                )
                for _ in range(index, OPPORTUNITIES, len(staff.sellers)):
                    await _deal(session, principal, rng, mine, open_stages, now)


async def _deal(
    session: AsyncSession,
    principal: Principal,
    rng: random.Random,
    customers_of_owner: list[uuid.UUID],
    open_stages: list[Stage],
    now: datetime,
) -> None:
    outcome = rng.choices(("open", "won", "lost"), weights=(60, 25, 15))[0]
    usd = rng.random() < 0.1
    amount = Decimal(rng.randrange(2, 80) * (500 if usd else 5000))
    age = rng.randrange(5, 150) if outcome == "open" else rng.randrange(40, 330)
    products = [
        ProductInterest(name=name, sku=sku, quantity=Decimal(rng.choice((1, 2, 5, 10, 20))))
        for name, sku in rng.sample(_PRODUCTS, k=rng.choice((1, 1, 2, 3)))
    ]
    view = await opportunities.create_opportunity(
        session,
        principal,
        OpportunityCreate(
            name=rng.choice(_DEALS),
            customer_id=rng.choice(customers_of_owner),
            amount=amount,
            currency="USD" if usd else "CNY",
            expected_close_date=(now + timedelta(days=rng.randrange(5, 150))).date(),
            source=rng.choice(_SOURCES),
            products=products,
        ),
    )
    furthest = rng.randrange(len(open_stages)) if outcome == "open" else rng.randrange(1, len(open_stages))
    for stage in open_stages[1 : furthest + 1]:
        if rng.random() < 0.85:  # now and then a stage is skipped
            await moves.move_stage(session, principal, view.id, StageMove(stage_id=stage.id))
    if outcome == "won":
        await moves.win_opportunity(session, principal, view.id, WonRequest())
    elif outcome == "lost":
        await moves.lose_opportunity(
            session, principal, view.id, LostRequest(reason=rng.choice(_LOST_REASONS))
        )
    await _backdate(session, view.id, now - timedelta(days=age), now, rng, closed=outcome != "open")


async def _backdate(
    session: AsyncSession,
    opportunity_id: uuid.UUID,
    created: datetime,
    now: datetime,
    rng: random.Random,
    *,
    closed: bool,
) -> None:
    """Spread the stays from ``created`` to now (a closed deal closed a while ago)."""
    deal = (await session.scalars(select(Opportunity).where(Opportunity.id == opportunity_id))).one()
    visits = list(
        (
            await session.scalars(
                select(StageVisit)
                .where(StageVisit.opportunity_id == opportunity_id)
                .order_by(StageVisit.entered_at, StageVisit.id)
            )
        ).all()
    )
    end = created + (now - created) * rng.uniform(0.4, 0.9) if closed else now
    cuts = sorted(rng.uniform(0, 1) for _ in range(len(visits) - 1))
    moments = [created, *(created + (end - created) * cut for cut in cuts)]
    if closed:
        moments[-1] = end
    for visit, entered, left in zip(visits, moments, [*moments[1:], None], strict=True):
        visit.entered_at, visit.left_at = entered, left
    deal.created_at = created
    deal.stage_entered_at = moments[-1]
    if deal.won_at is not None:
        deal.won_at = moments[-1]
        deal.expected_close_date = moments[-1].date()
    if deal.lost_at is not None:
        deal.lost_at = moments[-1]
        deal.expected_close_date = moments[-1].date()
    await session.flush()


async def seed_demo_data(db: Database, tenant_id: uuid.UUID, staff: DemoStaff, *, seed: int = 2026) -> None:
    """Fill the (new, empty) demo business with a year of believable sales work."""
    names = _Names(random.Random(seed))  # noqa: S311 - made-up data, not secrets
    with tenant_context(tenant_id):
        created = await _customers(db, staff, names)
        await _pool(db, staff, names, created)
        await _leads(db, staff, names)
        await _opportunities(db, staff, names)
