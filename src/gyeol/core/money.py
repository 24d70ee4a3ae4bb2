"""Money is an integer count of a currency's minor unit. Never a float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from gyeol.core.errors import DomainError

# ISO 4217 exponents of the currencies Gyeol accepts.
EXPONENTS: dict[str, int] = {"KRW": 0, "JPY": 0, "USD": 2, "EUR": 2, "GBP": 2, "CNY": 2, "SGD": 2}

MAX_AMOUNT = 2**53


def check_currency(currency: str) -> str:
    cur = currency.upper()
    if cur not in EXPONENTS:
        raise DomainError(
            "validation",
            "UNSUPPORTED_CURRENCY",
            f"Currency '{currency}' is not supported.",
            details={"supported": sorted(EXPONENTS)},
        )
    return cur


def exponent(currency: str) -> int:
    return EXPONENTS[currency.upper()]


def format_amount(amount: int, currency: str) -> str:
    """₩10,000 / $12.34 / ¥500: for pages and receipts."""
    exp = exponent(currency)
    symbol = {"KRW": "₩", "JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£"}.get(currency.upper(), "")
    value = Decimal(amount).scaleb(-exp)
    text = f"{value:,.{exp}f}"
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"


def apply_rate(amount: int, basis_points: int, fixed: int = 0) -> int:
    """A fee of `basis_points`/10000 of amount plus `fixed`, rounded half-up to the minor unit."""
    fee = (Decimal(amount) * Decimal(basis_points) / Decimal(10_000)).quantize(Decimal(1), ROUND_HALF_UP)
    return int(fee) + fixed


def vat_inside(amount: int) -> int:
    """The 10 % VAT inside an amount that includes it (a Korean PG's fee): a tenth of the supply value, so
    amount/11, rounded half-up away from zero (a PG's cancel rows are negative)."""
    half_up = (abs(amount) * 2 + 11) // 22
    return half_up if amount >= 0 else -half_up
