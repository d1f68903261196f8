"""Custom values are checked and normalized on write; every bad key is named
``custom_fields.<key>`` with its reason."""

from __future__ import annotations

from typing import Any

import pytest

from core.customfields.schemas import Option
from core.customfields.validation import merged, validate
from core.kernel.errors import Invalid
from tests.core.customfields.factories import DEFINITIONS, field


def _errors(values: Any, definitions: Any = DEFINITIONS, *, partial: bool = False) -> dict[str, str]:
    with pytest.raises(Invalid) as caught:
        validate(definitions, values, partial=partial)
    assert caught.value.code == "invalid_custom_fields"
    return {error.field: error.reason for error in caught.value.errors}


def test_good_values_come_back_normalized() -> None:
    values = validate(
        DEFINITIONS,
        {
            "region": "华东",
            "employees": "120",
            "budget": {"amount": "1500.5", "currency": "CNY"},
            "signed_on": "2026-02-28",
            "tier": "gold",
            "tags": ["gov", "vip"],
            "active": True,
        },
        partial=False,
    )

    assert values == {
        "region": "华东",
        "employees": 120,
        "budget": {"amount": "1500.50", "currency": "CNY"},
        "signed_on": "2026-02-28",
        "tier": "gold",
        "tags": ["vip", "gov"],
        "active": True,
    }


def test_an_unknown_key_is_refused() -> None:
    assert _errors({"colour": "red"}) == {"custom_fields.colour": "there is no such custom field"}


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("region", 12, "must be text"),
        ("region", "x" * 2001, "must be at most 2000 characters"),
        ("employees", "many", "must be a number"),
        ("employees", True, "must be a number"),
        ("employees", "NaN", "must be a finite number"),
        ("employees", "123456789012.3456", "must have at most 15 significant digits"),
        ("employees", "1e400", "must be below 10^15 with at most 6 decimal places"),
        ("employees", "0.0000001", "must be below 10^15 with at most 6 decimal places"),
        (
            "budget",
            {"amount": "1e15", "currency": "CNY"},
            "must be below 10^15 with at most 6 decimal places",
        ),
        ("active", "yes", "must be true or false"),
        ("tier", "bronze", "unknown option 'bronze'"),
        ("tags", ["vip", "nope"], "unknown option 'nope'"),
        ("tags", "vip", "must be a list of option keys"),
        ("signed_on", "2026-02-30", "2026-02-30 is not a calendar date"),
        ("signed_on", "28/02/2026", "must be a date as YYYY-MM-DD"),
        ("budget", {"amount": "10", "currency": "RMB"}, "RMB is not an ISO 4217 currency"),
        ("budget", {"amount": "10", "currency": "cny"}, "currency must be an ISO 4217 code such as CNY"),
        ("budget", {"amount": "10.005", "currency": "CNY"}, "CNY amounts have at most 2 decimal places"),
        ("budget", {"amount": "10.5", "currency": "JPY"}, "JPY amounts have at most 0 decimal places"),
        (
            "budget",
            {"amount": 10.5, "currency": "CNY"},
            'amount must be a decimal string such as "1234.50", not a float',
        ),
        ("budget", "10 CNY", 'must be {"amount": "1234.50", "currency": "CNY"}'),
    ],
)
def test_a_bad_value_is_refused_with_its_reason(key: str, value: Any, reason: str) -> None:
    assert _errors({key: value}) == {f"custom_fields.{key}": reason}


def test_every_bad_key_is_reported_at_once() -> None:
    errors = _errors({"employees": "x", "tier": "bronze", "colour": "red"})

    assert set(errors) == {"custom_fields.employees", "custom_fields.tier", "custom_fields.colour"}


def test_a_missing_required_field_is_refused_on_create_but_not_on_a_partial_write() -> None:
    definitions = [*DEFINITIONS, field("contract_no", "text", required=True)]

    assert _errors({"region": "north"}, definitions) == {
        "custom_fields.contract_no": "this field is required"
    }
    assert validate(definitions, {"region": "north"}, partial=True) == {"region": "north"}


def test_a_required_field_cannot_be_cleared() -> None:
    definitions = [field("contract_no", "text", required=True)]

    assert _errors({"contract_no": ""}, definitions, partial=True) == {
        "custom_fields.contract_no": "this field is required"
    }


def test_an_archived_field_takes_no_value_and_is_no_longer_required() -> None:
    definitions = [field("old_code", "text", required=True, archived=True)]

    assert validate(definitions, {}, partial=False) == {}
    assert _errors({"old_code": "A1"}, definitions) == {
        "custom_fields.old_code": "this field is archived and takes no new values"
    }


def test_an_archived_option_can_no_longer_be_chosen() -> None:
    tier = field("tier", "single_select", "gold")
    tier.options.append(Option(key="bronze", label=tier.options[0].label, archived=True))

    assert _errors({"tier": "bronze"}, [tier]) == {"custom_fields.tier": "unknown option 'bronze'"}


def test_a_partial_write_clears_a_value_with_null() -> None:
    changes = validate(DEFINITIONS, {"region": None, "employees": 7}, partial=True)

    assert changes == {"region": None, "employees": 7}
    assert merged({"region": "north", "active": True}, changes) == {"active": True, "employees": 7}


def test_values_that_are_not_an_object_are_refused() -> None:
    with pytest.raises(Invalid) as caught:
        validate(DEFINITIONS, ["region"], partial=False)  # type: ignore[arg-type]

    assert caught.value.errors[0].field == "custom_fields"
