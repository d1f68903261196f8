"""Filters and sorts on custom values, run by the real database (SQLite by default,
PostgreSQL in CI) over a CTE of JSON documents, as a list route runs them on its table."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import literal, select, union_all

from core.customfields.query import filter_clauses, has_value, order_by
from core.kernel.database import Database
from core.kernel.errors import Invalid
from core.kernel.models import JSONType
from tests.core.customfields.factories import DEFINITIONS

pytestmark = pytest.mark.anyio

RECORDS: dict[str, dict[str, Any]] = {
    "acme": {
        "region": "East China",
        "employees": 9,
        "budget": {"amount": "1500.50", "currency": "CNY"},
        "signed_on": "2026-02-01",
        "tier": "gold",
        "tags": ["vip", "export"],
        "active": True,
    },
    "bolt": {
        "region": "North",
        "employees": 40,
        "budget": {"amount": "200.00", "currency": "USD"},
        "signed_on": "2025-12-31",
        "tier": "silver",
        "tags": ["export"],
        "active": False,
    },
    "core": {"employees": 100, "tags": ["gov", "vip", "export"]},
    "dune": {},
}
ROWS = union_all(
    *[
        select(literal(name).label("name"), literal(values, JSONType).label("cf"))
        for name, values in RECORDS.items()
    ]
).cte("records")


async def _names(db: Database, *clauses: Any, order: Any = None) -> list[str]:
    stmt = select(ROWS.c.name).where(*clauses)
    stmt = stmt.order_by(order, ROWS.c.name) if order is not None else stmt.order_by(ROWS.c.name)
    async with db.engine.connect() as conn:
        return list((await conn.execute(stmt)).scalars())


async def _filtered(db: Database, **params: str) -> list[str]:
    return await _names(
        db, *filter_clauses(DEFINITIONS, ROWS.c.cf, {f"cf.{k}": v for k, v in params.items()})
    )


async def test_numbers_compare_as_numbers_not_text(db: Database) -> None:
    assert await _filtered(db, employees__gte="10") == ["bolt", "core"]
    assert await _filtered(db, employees__lt="40") == ["acme"]
    assert await _filtered(db, employees="40") == ["bolt"]
    assert await _filtered(db, employees__in="9,100") == ["acme", "core"]


async def test_money_compares_the_amount_and_filters_the_currency(db: Database) -> None:
    assert await _filtered(db, budget__gt="999.99") == ["acme"]
    assert await _filtered(db, budget__lte="1500.5") == ["acme", "bolt"]
    assert await _filtered(db, budget__currency="usd") == ["bolt"]


async def test_dates_compare_as_dates(db: Database) -> None:
    assert await _filtered(db, signed_on__gte="2026-01-01") == ["acme"]
    assert await _filtered(db, signed_on__lt="2026-01-01") == ["bolt"]


async def test_a_multi_select_matches_when_it_contains_every_option_asked(db: Database) -> None:
    assert await _filtered(db, tags__contains="vip") == ["acme", "core"]
    assert await _filtered(db, tags__contains="export,vip") == ["acme", "core"]
    assert await _filtered(db, tags__contains="gov,export") == ["core"]


async def test_selects_booleans_and_text(db: Database) -> None:
    assert await _filtered(db, tier="gold") == ["acme"]
    assert await _filtered(db, tier__in="gold,silver") == ["acme", "bolt"]
    assert await _filtered(db, tier__ne="gold") == ["bolt", "core", "dune"]
    assert await _filtered(db, active="true") == ["acme"]
    assert await _filtered(db, active="false") == ["bolt"]
    assert await _filtered(db, region__contains="CHINA") == ["acme"]
    assert await _filtered(db, region="North") == ["bolt"]


async def test_isnull_finds_records_without_a_value(db: Database) -> None:
    assert await _filtered(db, employees__isnull="true") == ["dune"]
    assert await _filtered(db, tier__isnull="false") == ["acme", "bolt"]
    assert await _names(db, has_value(ROWS.c.cf, "tags")) == ["acme", "bolt", "core"]


async def test_filters_combine_with_and(db: Database) -> None:
    assert await _filtered(db, tags__contains="vip", employees__gte="50") == ["core"]


async def test_parameters_other_than_cf_are_left_to_the_caller() -> None:
    assert filter_clauses(DEFINITIONS, ROWS.c.cf, {"sort": "name", "limit": "10"}) == []


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("cf.employees", ["acme", "bolt", "core", "dune"]),
        ("-cf.employees", ["core", "bolt", "acme", "dune"]),
        ("cf.budget", ["bolt", "acme", "core", "dune"]),
        ("-cf.signed_on", ["acme", "bolt", "core", "dune"]),
        ("cf.region", ["acme", "bolt", "core", "dune"]),
    ],
)
async def test_sorting_is_typed_with_empty_values_last(db: Database, sort: str, expected: list[str]) -> None:
    assert await _names(db, order=order_by(DEFINITIONS, ROWS.c.cf, sort)) == expected


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("cf.colour", "red"),
        ("cf.employees__contains", "4"),
        ("cf.employees__gte", "lots"),
        ("cf.budget__lt", "1e400"),
        ("cf.signed_on__gt", "yesterday"),
        ("cf.tier", "bronze"),
        ("cf.tags__contains", "vip,nope"),
        ("cf.active", "maybe"),
        ("cf.tags", "vip"),
    ],
)
def test_a_bad_filter_is_refused_naming_the_parameter(param: str, value: str) -> None:
    with pytest.raises(Invalid) as caught:
        filter_clauses(DEFINITIONS, ROWS.c.cf, {param: value})

    assert caught.value.status == 422
    assert caught.value.code == "invalid_filter"
    assert caught.value.errors[0].field == param


@pytest.mark.parametrize("sort", ["cf.colour", "cf.tags", "-cf.nothing"])
def test_a_bad_sort_is_refused(sort: str) -> None:
    with pytest.raises(Invalid) as caught:
        order_by(DEFINITIONS, ROWS.c.cf, sort)

    assert caught.value.errors[0].field == "sort"
