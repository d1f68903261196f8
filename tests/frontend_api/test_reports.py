"""The sales reports with hand-computed figures: the forecast by month, owner and team in its
categories, the funnel of a pipeline from the stage history, the win rate; per currency,
rounded once, within the caller's scope (run on SQLite and on PostgreSQL)."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from core.kernel.settings import Settings
from tests.frontend_api import test_customers as customer_tests
from tests.frontend_api.test_customers import _create
from tests.frontend_api.test_opportunities import (
    _execute,
    _opportunity,
    _pipeline,
    _sql_id,
    _sql_time,
    _stage,
)
from tests.helpers import add_member, signup

owner = customer_tests.owner
sales = customer_tests.sales

API = "/api/v1/opportunities"
REPORTS = "/api/v1/reports"


def _figures(count: int, amount: str, weighted: str) -> dict[str, Any]:
    return {"count": count, "amount": amount, "weighted_amount": weighted}


def _line(key: str | None, currency: str, **categories: dict[str, Any]) -> dict[str, Any]:
    empty = _figures(0, "0.00", "0.00")
    return {
        "key": key,
        "currency": currency,
        "commit": categories.get("commit", empty),
        "best_case": categories.get("best_case", empty),
        "pipeline": categories.get("pipeline", empty),
        "total": categories["total"],
    }


def _get(client: TestClient[Any], path: str, headers: dict[str, str], **params: Any) -> Any:
    response = client.get(f"{REPORTS}/{path}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_forecast_weighs_open_opportunities_by_month_owner_and_team_per_currency(
    client: TestClient[Any], owner: dict[str, Any], sales: dict[str, Any]
) -> None:
    h, rep, colleague = owner["headers"], sales["rep"], sales["colleague"]
    p = _pipeline(client, h)
    mine, theirs, ours = (
        _create(client, rep["headers"], name="Rep's")["id"],
        _create(client, colleague["headers"], name="Colleague's")["id"],
        _create(client, h, name="Owner's")["id"],
    )
    r = rep["headers"]
    _opportunity(client, r, mine, amount="1000.00", stage_id=_stage(p, 1), expected_close_date="2027-01-15")
    _opportunity(client, r, mine, amount="2000.00", stage_id=_stage(p, 3), expected_close_date="2027-01-20")
    _opportunity(
        client,
        r,
        mine,
        amount="500.00",
        currency="USD",
        stage_id=_stage(p, 4),
        expected_close_date="2027-02-01",
    )
    won = _opportunity(client, r, mine, amount="10000", expected_close_date="2027-01-05")
    client.post(f"{API}/{won['id']}/won", headers=r, json={})
    c = colleague["headers"]
    _opportunity(client, c, theirs, amount="333.33", stage_id=_stage(p, 4), expected_close_date="2027-02-10")
    _opportunity(
        client,
        c,
        theirs,
        amount="100.00",
        stage_id=_stage(p, 2),
        expected_close_date="2027-02-28",
        forecast_category="commit",
    )
    _opportunity(client, h, ours, amount="999", forecast_category="omitted", expected_close_date="2027-01-01")
    _opportunity(client, h, ours, amount="50.05", stage_id=_stage(p, 3))  # no expected close date

    report = _get(client, "forecast", h)
    # 10 % of 1000.00; 50 % of 2000.00; 70 % of 333.33 = 233.331 plus 30 % of 100.00 (set to
    # commit) = 263.331; 70 % of 500.00 USD; 50 % of 50.05 = 25.025.
    assert report["by_month"] == [
        _line(
            "2027-01",
            "CNY",
            pipeline=_figures(1, "1000.00", "100.00"),
            best_case=_figures(1, "2000.00", "1000.00"),
            total=_figures(2, "3000.00", "1100.00"),
        ),
        _line(
            "2027-02", "CNY", commit=_figures(2, "433.33", "263.33"), total=_figures(2, "433.33", "263.33")
        ),
        _line(
            "2027-02", "USD", commit=_figures(1, "500.00", "350.00"), total=_figures(1, "500.00", "350.00")
        ),
        _line(None, "CNY", best_case=_figures(1, "50.05", "25.03"), total=_figures(1, "50.05", "25.03")),
    ]
    # Weighted exactly, rounded once: 100 + 1025.025 + 263.331 = 1388.356.
    assert report["totals"] == [
        _line(
            None,
            "CNY",
            commit=_figures(2, "433.33", "263.33"),
            best_case=_figures(2, "2050.05", "1025.03"),
            pipeline=_figures(1, "1000.00", "100.00"),
            total=_figures(5, "3483.38", "1388.36"),
        ),
        _line(None, "USD", commit=_figures(1, "500.00", "350.00"), total=_figures(1, "500.00", "350.00")),
    ]
    by_owner = {(line["key"], line["currency"]): line["total"] for line in report["by_owner"]}
    assert by_owner == {
        (rep["user_id"], "CNY"): _figures(2, "3000.00", "1100.00"),
        (rep["user_id"], "USD"): _figures(1, "500.00", "350.00"),
        (colleague["user_id"], "CNY"): _figures(2, "433.33", "263.33"),
        (client.get("/api/v1/me", headers=h).json()["user_id"], "CNY"): _figures(1, "50.05", "25.03"),
    }
    by_team = {(line["key"], line["currency"]): line["total"] for line in report["by_team"]}
    north = client.get("/api/v1/me", headers=rep["headers"]).json()["team_id"]
    assert by_team == {
        (north, "CNY"): _figures(4, "3433.33", "1363.33"),  # 1100 + 263.331
        (north, "USD"): _figures(1, "500.00", "350.00"),
        (None, "CNY"): _figures(1, "50.05", "25.03"),
    }
    february = _get(client, "forecast", h, close_from="2027-02-01", close_to="2027-02-28")
    assert [(line["currency"], line["total"]["count"]) for line in february["totals"]] == [
        ("CNY", 2),
        ("USD", 1),
    ]
    # A rep sees their own figures only.
    own = _get(client, "forecast", rep["headers"])
    assert [(line["currency"], line["total"]) for line in own["totals"]] == [
        ("CNY", _figures(2, "3000.00", "1100.00")),
        ("USD", _figures(1, "500.00", "350.00")),
    ]
    other = client.post("/api/v1/pipelines", headers=h, json={"name": "Projects"}).json()
    assert _get(client, "forecast", h, pipeline_id=other["id"])["totals"] == []


def test_the_funnel_counts_how_far_each_opportunity_got_and_the_win_rate(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    h = owner["headers"]
    p = _pipeline(client, h)
    customer = _create(client, h)["id"]

    def deal(amount: str, *positions: int, source: str | None = None, end: str | None = None) -> str:
        created = _opportunity(client, h, customer, amount=amount, source=source)
        for position in positions:
            moved = client.post(
                f"{API}/{created['id']}/stage", headers=h, json={"stage_id": _stage(p, position)}
            )
            assert moved.status_code == 200, moved.text
        if end == "won":
            client.post(f"{API}/{created['id']}/won", headers=h, json={})
        if end == "lost":
            client.post(f"{API}/{created['id']}/lost", headers=h, json={"reason": "Price"})
        return str(created["id"])

    a = deal("1000", 2, 3, source="expo", end="won")
    deal("200", 3, source="expo", end="lost")  # skipped stage 2
    deal("30")
    deal("4", 2)
    e = deal("500.50", source="web", end="won")  # won straight from the first stage
    # A took 10 days from creation to the win, E three and a half: 6.75 days on average.
    for opportunity, created, won in (
        (a, "2026-01-01 00:00:00", "2026-01-11 00:00:00"),
        (e, "2026-01-01 00:00:00", "2026-01-04 12:00:00"),
    ):
        _execute(
            settings,
            f"UPDATE opportunities SET created_at = '{_sql_time(settings, created)}',"
            f" won_at = '{_sql_time(settings, won)}'"
            f" WHERE id = '{_sql_id(settings, opportunity)}'",
        )

    report = _get(client, "funnel", h, pipeline_id=p["id"])
    assert (report["cohort"], report["lost"], report["average_cycle_days"]) == (5, 1, "6.8")
    steps = [(s["stage"]["position"], s["count"], s["conversion_rate"]) for s in report["steps"]]
    assert steps == [(1, 5, None), (2, 4, "80.0"), (3, 3, "75.0"), (4, 2, "66.7"), (5, 2, "100.0")]
    amounts = [(s["amounts"][0]["amount"], s["amounts"][0]["weighted_amount"]) for s in report["steps"]]
    assert amounts == [
        ("1734.50", "173.45"),
        ("1704.50", "511.35"),
        ("1700.50", "850.25"),
        ("1500.50", "1050.35"),
        ("1500.50", "1500.50"),
    ]
    assert report["win_rate"] == {"key": None, "won": 2, "lost": 1, "win_rate": "66.7"}
    assert report["win_rate_by_source"] == [
        {"key": "expo", "won": 1, "lost": 1, "win_rate": "50.0"},
        {"key": "web", "won": 1, "lost": 0, "win_rate": "100.0"},
        {"key": None, "won": 0, "lost": 0, "win_rate": None},
    ]
    january = _get(
        client, "funnel", h, pipeline_id=p["id"], created_from="2026-01-01", created_to="2026-01-31"
    )
    assert (january["cohort"], [s["count"] for s in january["steps"]]) == (2, [2, 2, 2, 2, 2])

    rates = _get(client, "win-rate", h)
    assert rates["overall"] == {"key": None, "won": 2, "lost": 1, "win_rate": "66.7"}
    assert [r["key"] for r in rates["by_source"]] == ["expo", "web"]
    assert rates["by_owner"] == [
        {
            "key": client.get("/api/v1/me", headers=h).json()["user_id"],
            "won": 2,
            "lost": 1,
            "win_rate": "66.7",
        }
    ]
    closed_in_january = _get(client, "win-rate", h, closed_from="2026-01-01", closed_to="2026-01-31")
    assert closed_in_january["overall"] == {"key": None, "won": 2, "lost": 0, "win_rate": "100.0"}

    # A rep sees none of the owner's figures; another business's pipeline is not found.
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    theirs = _get(client, "funnel", rep["headers"], pipeline_id=p["id"])
    assert (theirs["cohort"], [s["count"] for s in theirs["steps"]], theirs["win_rate"]["win_rate"]) == (
        0,
        [0, 0, 0, 0, 0],
        None,
    )
    assert _get(client, "win-rate", rep["headers"])["overall"]["won"] == 0
    stranger = signup(client, "Other")
    assert (
        client.get(
            f"{REPORTS}/funnel", headers=stranger["headers"], params={"pipeline_id": p["id"]}
        ).status_code
        == 404
    )
    assert _get(client, "forecast", stranger["headers"])["totals"] == []


def test_reports_need_opportunities_read(
    client: TestClient[Any], owner: dict[str, Any], settings: Settings
) -> None:
    agent = add_member(client, settings, owner["tenant_id"], "support_agent")
    for path in ("forecast", "win-rate"):
        assert client.get(f"{REPORTS}/{path}", headers=agent["headers"]).status_code == 403
