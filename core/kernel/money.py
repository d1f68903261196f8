"""Money: Decimal amounts with an ISO 4217 currency, stored exactly on every backend.

An amount column is :class:`MoneyAmount`: a ``BIGINT`` of ten-thousandths (every ISO 4217
currency has at most four minor digits), read and written as :class:`~decimal.Decimal`.
Sums and comparisons therefore run in SQL on integers — exact on SQLite too, where a
``NUMERIC`` column would be a binary float — and come back as Decimal::

    amount: Mapped[Decimal] = mapped_column(MoneyAmount())
    select(func.sum(Opportunity.amount)).where(Opportunity.amount >= Decimal("1000"))

Amounts of different currencies are never added: group by the currency column.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from moneyed import CurrencyDoesNotExist, get_currency
from sqlalchemy import BigInteger, TypeDecorator
from sqlalchemy.engine import Dialect

from core.kernel.errors import Invalid

__all__ = ["MAX_AMOUNT", "MoneyAmount", "check_amount", "check_currency", "minor_digits", "rounded"]

#: Stored scale: ten-thousandths.
SCALE = 4
#: Amounts stay below a trillion, so sums of millions of them fit a BIGINT of ten-thousandths.
MAX_AMOUNT = Decimal(10) ** 12
_CODE = re.compile(r"^[A-Z]{3}$")


class MoneyAmount(TypeDecorator[Decimal]):
    """A Decimal amount kept as an integer count of ten-thousandths."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int(Decimal(value).scaleb(SCALE).to_integral_value(ROUND_HALF_UP))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(value).scaleb(-SCALE)

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


def check_currency(code: str, field: str = "currency") -> str:
    """``code`` if it is an ISO 4217 currency (upper case); 422 ``invalid_currency`` otherwise."""
    code = code.strip().upper()
    try:
        if not _CODE.match(code):
            raise CurrencyDoesNotExist(code)
        get_currency(code)
    except CurrencyDoesNotExist:
        raise Invalid(
            f"{code or 'This'} is not an ISO 4217 currency code (such as CNY).",
            field=field,
            code="invalid_currency",
        ) from None
    return code


def minor_digits(currency: str) -> int:
    """How many decimal places amounts of ``currency`` have (CNY 2, JPY 0, KWD 3)."""
    sub_unit = get_currency(currency).sub_unit
    return len(str(sub_unit)) - 1 if sub_unit else 0


def check_amount(amount: Decimal, currency: str, field: str = "amount") -> Decimal:
    """``amount`` in ``currency``: finite, not negative, below :data:`MAX_AMOUNT`, with no more
    decimal places than the currency has; 422 ``invalid_amount`` naming ``field`` otherwise."""
    try:
        finite = amount.is_finite()
    except (AttributeError, InvalidOperation):
        finite = False
    if not finite or amount < 0 or amount >= MAX_AMOUNT:
        raise Invalid("An amount is a number from 0 to below 10^12.", field=field, code="invalid_amount")
    digits = minor_digits(currency)
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > digits:
        raise Invalid(
            f"{currency} amounts have at most {digits} decimal places.", field=field, code="invalid_amount"
        )
    return amount.quantize(Decimal(1).scaleb(-digits))


def rounded(amount: Decimal, currency: str) -> Decimal:
    """``amount`` (a weighted or averaged figure) to the currency's minor unit, half up."""
    return amount.quantize(Decimal(1).scaleb(-minor_digits(currency)), ROUND_HALF_UP)
