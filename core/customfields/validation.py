"""Validation of the custom values of one record, on write.

Values are stored as JSON in the entity's own column, normalized so that lists can filter
and sort on them (:mod:`core.customfields.query`):

==============  =====================================================================
type            stored as
==============  =====================================================================
text            a string (at most 2,000 characters)
number          a JSON number (at most 15 significant digits, so it stays exact)
money           ``{"amount": "1234.50", "currency": "CNY"}``: a Decimal string with the
                currency's minor units, and an ISO 4217 code
date            ``"YYYY-MM-DD"``
single_select   the option key
multi_select    a list of option keys, in the options' order
boolean         ``true`` / ``false``
==============  =====================================================================

A value of ``None`` (or ``""``, ``[]``) clears the field; cleared fields are not stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from moneyed import CurrencyDoesNotExist, get_currency

from core.customfields.schemas import FieldView
from core.kernel.errors import FieldError, Invalid

__all__ = ["MAX_TEXT", "merged", "normalize", "parse_number", "validate"]

MAX_TEXT = 2000
_MAX_DIGITS = 15
_MAX_NUMBER = Decimal(10) ** 15
_MAX_DECIMALS = 6
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def validate(
    definitions: Sequence[FieldView], values: Mapping[str, Any] | None, *, partial: bool
) -> dict[str, Any]:
    """Check and normalize the custom ``values`` of one record against its ``definitions``.

    With ``partial`` (a PATCH) only the keys given are checked, and a cleared key comes back
    as None for :func:`merged`; otherwise (a create or full replace) every required field
    must have a value, and cleared keys are left out.

    Raises:
        Invalid: one error per bad key, each naming ``custom_fields.<key>`` with the reason
            (unknown or archived field, wrong type, missing required, unknown option...).
    """
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise Invalid("Custom fields must be an object.", field="custom_fields", code="invalid_custom_fields")
    by_key = {d.key: d for d in definitions}
    result: dict[str, Any] = {}
    errors: list[FieldError] = []
    for key, raw in values.items():
        definition = by_key.get(key)
        try:
            if definition is None:
                raise ValueError("there is no such custom field")
            if definition.archived:
                raise ValueError("this field is archived and takes no new values")
            value = normalize(definition, raw)
            if value is None and definition.required:
                raise ValueError("this field is required")
        except ValueError as exc:
            errors.append(FieldError(f"custom_fields.{key}", str(exc)))
            continue
        if value is not None or partial:
            result[key] = value
    if not partial:
        for definition in definitions:
            if definition.required and not definition.archived and definition.key not in values:
                errors.append(FieldError(f"custom_fields.{definition.key}", "this field is required"))
    if errors:
        raise Invalid(
            "Some custom fields are not valid: " + "; ".join(f"{e.field}: {e.reason}" for e in errors),
            code="invalid_custom_fields",
            errors=errors,
        )
    return result


def merged(current: Mapping[str, Any] | None, changes: Mapping[str, Any]) -> dict[str, Any]:
    """``current`` values with the ``changes`` of ``validate(..., partial=True)`` applied."""
    result = {**(current or {}), **changes}
    return {key: value for key, value in result.items() if value is not None}


def normalize(definition: FieldView, raw: Any) -> Any:
    """The stored form of ``raw`` for ``definition``, None to clear.

    Raises:
        ValueError: the reason ``raw`` does not fit the field.
    """
    if raw is None or raw == "" or raw == []:
        return None
    return _NORMALIZERS[definition.type](definition, raw)


def _text(_: FieldView, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("must be text")
    if len(raw) > MAX_TEXT:
        raise ValueError(f"must be at most {MAX_TEXT} characters")
    return raw


def parse_number(raw: Any) -> Decimal:
    """A Decimal from a JSON number or a numeric string (never a boolean), within what lists
    compare exactly (``NUMERIC(30, 6)``)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise ValueError("must be a number")
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not number.is_finite():
        raise ValueError("must be a finite number")
    exponent = number.as_tuple().exponent
    if abs(number) >= _MAX_NUMBER or (isinstance(exponent, int) and exponent < -_MAX_DECIMALS):
        raise ValueError(f"must be below 10^15 with at most {_MAX_DECIMALS} decimal places")
    return number


def _number(_: FieldView, raw: Any) -> int | float:
    number = parse_number(raw)
    if len(number.normalize().as_tuple().digits) > _MAX_DIGITS:
        raise ValueError(f"must have at most {_MAX_DIGITS} significant digits")
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def _money(_: FieldView, raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping) or set(raw) != {"amount", "currency"}:
        raise ValueError('must be {"amount": "1234.50", "currency": "CNY"}')
    currency_code = raw["currency"]
    if not isinstance(currency_code, str) or not _CURRENCY.match(currency_code):
        raise ValueError("currency must be an ISO 4217 code such as CNY")
    try:
        currency = get_currency(currency_code)
    except CurrencyDoesNotExist:
        raise ValueError(f"{currency_code} is not an ISO 4217 currency") from None
    amount_raw = raw["amount"]
    if isinstance(amount_raw, float):
        raise ValueError('amount must be a decimal string such as "1234.50", not a float')
    amount = parse_number(amount_raw)
    minor = len(str(currency.sub_unit)) - 1 if currency.sub_unit else 0
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > minor:
        raise ValueError(f"{currency.code} amounts have at most {minor} decimal places")
    return {"amount": str(amount.quantize(Decimal(1).scaleb(-minor))), "currency": currency.code}


def _date(_: FieldView, raw: Any) -> str:
    if not isinstance(raw, str) or not _DATE.match(raw):
        raise ValueError("must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise ValueError(f"{raw} is not a calendar date") from None


def _choosable(definition: FieldView) -> list[str]:
    return [option.key for option in definition.options if not option.archived]


def _single(definition: FieldView, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("must be an option key")
    if raw not in _choosable(definition):
        raise ValueError(f"unknown option {raw!r}")
    return raw


def _multi(definition: FieldView, raw: Any) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ValueError("must be a list of option keys")
    choosable = _choosable(definition)
    for item in raw:
        if item not in choosable:
            raise ValueError(f"unknown option {item!r}")
    return [key for key in choosable if key in raw]


def _boolean(_: FieldView, raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise ValueError("must be true or false")
    return raw


_NORMALIZERS: dict[str, Callable[[FieldView, Any], Any]] = {
    "text": _text,
    "number": _number,
    "money": _money,
    "date": _date,
    "single_select": _single,
    "multi_select": _multi,
    "boolean": _boolean,
}
