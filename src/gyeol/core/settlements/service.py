"""Settlements: what the merchant is paid for each approval, less the fee, and when.

Rows are booked inside the transaction that takes or returns the money, so a payment can never be approved
without its settlement. Each source is booked once: by the transaction whose checked status move took or returned
the money (the payment's to succeeded or captured, the refund's to succeeded), and `source_id` is unique besides
(the payment for an approval, the refund for a negative adjustment): a second booking fails its transaction.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from gyeol.core.clock import KST, Clock
from gyeol.core.context import Caller
from gyeol.core.errors import DomainError, not_found
from gyeol.core.events import outbox
from gyeol.core.ledger import book as ledger
from gyeol.core.ledger.records import Payout
from gyeol.core.merchants import repository as merchants_repo
from gyeol.core.money import apply_rate
from gyeol.core.pagination import Page
from gyeol.core.payments.records import Payment
from gyeol.core.settlements import repository as repo
from gyeol.core.settlements.records import Settlement
from gyeol.db import sql
from gyeol.db.engine import Conn, Database
from gyeol.ids import new_id

# (basis points, fixed minor units) per method, unless the merchant's settings say otherwise.
DEFAULT_FEES: dict[str, tuple[int, int]] = {"card": (250, 0), "bank": (150, 0), "virtual_account": (0, 300)}
DEFAULT_PAYOUT_DAYS = 2


def add_business_days(start: date, days: int) -> date:
    d = start
    while days > 0:
        d += timedelta(days=1)
        if d.weekday() < 5:
            days -= 1
    return d


def fee_for(settings: dict[str, Any], method: str, amount: int) -> int:
    conf = (settings.get("fees") or {}).get(method)
    if conf is not None:
        bps, fixed = int(conf.get("bps", 0)), int(conf.get("fixed", 0))
    else:
        bps, fixed = DEFAULT_FEES.get(method, DEFAULT_FEES["card"])
    return apply_rate(amount, bps, fixed)


async def book(conn: Conn, p: Payment, *, source_id: str, amount: int, now: datetime) -> Settlement:
    """Book an approval (amount > 0) or an adjustment (amount < 0) for payment `p`, at its merchant's fees;
    returns it, for its event (`created`), which the caller adds with the change's others, and its transfers. The
    transaction fails with `repository.AlreadyBooked` if `source_id` has a settlement."""
    s = booking(p, source_id=source_id, amount=amount, now=now,
                settings=await merchants_repo.settings(conn, p.merchant_id))
    await repo.insert(conn, s)
    return s


def booking(p: Payment, *, source_id: str, amount: int, now: datetime, settings: dict[str, Any]) -> Settlement:
    """The settlement `book` writes, for a caller that writes it with the rest of its change
    (`repository.inserting`) and has read the merchant's `settings` already."""
    method = p.method_type or "card"
    if amount >= 0:
        fee = fee_for(settings, method, amount)
    else:  # a refund returns the proportional part of the fee, never the fixed part
        fee = -fee_for({**settings, "fees": {method: _rate_only(settings, method)}}, method, -amount)
    days = int(settings.get("payoutDays", DEFAULT_PAYOUT_DAYS))
    return Settlement(
        id=new_id("stl"), merchant_id=p.merchant_id, livemode=p.livemode, payment_id=p.id, order_id=p.order_id,
        source_id=source_id, kind="payment" if amount >= 0 else "adjustment", method=method, gross_amount=amount,
        fee_amount=fee, net_amount=amount - fee, currency=p.currency, status="scheduled",
        payout_date=add_business_days(now.astimezone(KST).date(), days), paid_at=None, payout_id=None,
        created_at=now,
    )


def created(s: Settlement) -> outbox.Event:
    return outbox.Event(s.merchant_id, "settlement.created", s, s.id)


async def for_payment(conn: Conn, payment_id: str) -> Settlement:
    """The approval's settlement of a payment whose money was taken."""
    found = await repo.approval(conn, payment_id)
    if found is None:
        raise LookupError(f"payment {payment_id} has no settlement")  # booked with the money: never happens
    return found


def _rate_only(settings: dict[str, Any], method: str) -> dict[str, int]:
    conf = (settings.get("fees") or {}).get(method)
    bps = int(conf.get("bps", 0)) if conf is not None else DEFAULT_FEES.get(method, DEFAULT_FEES["card"])[0]
    return {"bps": bps, "fixed": 0}


class SettlementService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def list_page(self, caller: Caller, page: int, size: int, start: date | None = None,
                        end: date | None = None, status: str | None = None) -> Page[Settlement]:
        async with self.db.read() as conn:
            return await repo.list_page(conn, caller, page, size, start=start, end=end, status=status)

    async def get(self, caller: Caller, settlement_id: str) -> Settlement:
        async with self.db.read() as conn:
            s = await repo.get(conn, settlement_id)
        if s is None or not caller.owns(s.merchant_id, s.livemode):
            raise not_found("settlement", settlement_id)
        return s

    async def of_payment(self, caller: Caller, payment_id: str) -> Settlement:
        """The approval's settlement of one of the caller's payments whose money was taken."""
        async with self.db.read() as conn:
            s = await repo.approval(conn, payment_id)
        if s is None or not caller.owns(s.merchant_id, s.livemode):
            raise DomainError("not_found", "NOT_FOUND", f"No settlement for payment '{payment_id}'.",
                              details={"paymentId": payment_id})
        return s

    async def all(self, caller: Caller, start: date | None, end: date | None,
                  status: str | None) -> list[Settlement]:
        """What `list_page` pages through, all at once (the merchant's books)."""
        async with self.db.read() as conn:
            return await repo.all_matching(conn, caller, start=start, end=end, status=status)

    async def mark_paid(self) -> int:
        """Scheduled rows whose payout day has come are paid out (the worker's job): for each merchant, mode and
        currency, one payout of their net, booked out of the available balance with `payout.paid`, in the
        transaction that marks them. Returns how many rows were paid."""
        now = self.clock.now()
        today = now.astimezone(KST).date()
        async with self.db.read() as conn:
            groups = await repo.due_groups(conn, today)
        paid = 0
        for merchant_id, livemode, currency in groups:
            async with self.db.tx() as conn:
                payout_id = new_id("po")
                # Conditional on `scheduled`: a row another worker paid meanwhile is not in this payout.
                nets = await repo.pay_out_due(conn, merchant_id, livemode, currency, today, now, payout_id)
                if not nets:
                    continue
                po = Payout(id=payout_id, merchant_id=merchant_id, livemode=livemode, currency=currency,
                            amount=sum(nets), settlements=len(nets), arrival_date=today, created_at=now)
                await sql.write_all(conn, [*ledger.inserting(ledger.paid_out(po)), outbox.inserting(
                    [outbox.Event(merchant_id, "payout.paid", po, payout_id)], now)])
            paid += len(nets)
        return paid
