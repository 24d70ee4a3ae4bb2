"""Toss's settlement report, `GET /v1/settlements` (reference §15), served from the simulator's own payments, and
the switches that make it disagree with a merchant's books (docs/toss.md).

A row for each approval and one for each cancel, with the fee of the simulator's contract (VAT included: 10 % of
the supply value), sold on the Korean day of the approval or the cancel and paid out two business days later.
The switches are per secret key, at `/admin/settlements/faults` (not Toss's API: the simulator's own controls):
a fee off by some won, an approval left out, a payment approved at Toss that no merchant's server confirmed, and
a cancel reported for another amount.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gyeol.core.clock import KST
from gyeol.core.money import apply_rate, vat_inside
from gyeol.core.settlements.service import add_business_days
from gyeol.simulators.toss.payment import SimPayment
from gyeol.simulators.toss.wire import TossError, body_of
from gyeol.toss_v1 import METHOD_KO, ORDER_ID_MAX

if TYPE_CHECKING:
    from gyeol.simulators.toss.simulator import TossSimulator

# The merchant's contract with the simulated Toss: (basis points, fixed won) per method, and the payout delay.
FEES = {"CARD": (250, 0), "VIRTUAL_ACCOUNT": (0, 300)}
PAYOUT_DAYS = 2
PAGE_MAX = 5000
DATE_TYPES = ("soldDate", "paidOutDate")
FAULTS = ("fee_off_by_one", "missing_payment", "unknown_payment", "wrong_cancel_amount")


@dataclass
class Faults:
    """One secret key's switches."""

    fee_off: dict[str, int] = field(default_factory=dict)  # paymentKey -> won added to its approval's fee
    missing: set[str] = field(default_factory=set)  # paymentKeys whose approval row is left out
    cancel_off: dict[str, int] = field(default_factory=dict)  # a cancel's transactionKey -> won added to it
    unknown: list[str] = field(default_factory=list)  # payments approved at Toss behind the merchant's back


def _method(p: SimPayment, english: bool) -> str:
    return p.method if english else METHOD_KO.get(p.method, p.method)


def _day(value: str | datetime) -> date:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(KST).date()


class SimSettlements:
    def __init__(self, sim: TossSimulator) -> None:
        self.sim = sim
        self.faults: dict[str, Faults] = {}

    def routes(self) -> list[Route]:
        return [Route("/v1/settlements", self.report, methods=["GET"]),
                Route("/admin/settlements/faults", self.switch, methods=["GET", "POST", "DELETE"])]

    # --- the report -------------------------------------------------------------------------------
    def rows(self, owner: str, english: bool = False) -> list[dict[str, Any]]:
        """Every row of the owner's report, oldest sale first (the order is the simulator's choice)."""
        faults = self.faults.get(owner, Faults())
        out: list[tuple[str, str, int, dict[str, Any]]] = []
        for p in self.sim.payments.values():
            if p.owner != owner or p.approved_at is None:
                continue  # never approved (a virtual account cancelled before its deposit included): nothing moved
            shown = p.to_json("", english)
            if p.payment_key not in faults.missing:
                row = self._row(p, shown, p.amount, _day(p.approved_at), self.approval_key(p), None, english,
                                fee_off=faults.fee_off.get(p.payment_key, 0))
                out.append((row["soldDate"], shown["approvedAt"] or "", 0, row))
            for c in p.cancels:
                amount = c["cancelAmount"] + faults.cancel_off.get(c["transactionKey"], 0)
                row = self._row(p, shown, -amount, _day(c["canceledAt"]), c["transactionKey"], c, english)
                out.append((row["soldDate"], c["canceledAt"], 1, row))
        out.sort(key=lambda x: (x[0], x[1], x[2], x[3]["transactionKey"]))
        return [row for *_, row in out]

    @staticmethod
    def approval_key(p: SimPayment) -> str:
        """The approval's transactionKey. The simulator does not keep it once a cancel takes its place as the
        payment's `lastTransactionKey`, so it is derived from the paymentKey (docs/toss.md)."""
        return hashlib.sha256(b"approval:" + p.payment_key.encode()).hexdigest()[:32]

    @staticmethod
    def _row(p: SimPayment, shown: dict[str, Any], amount: int, sold: date, transaction_key: str,
             cancel: dict[str, Any] | None, english: bool, fee_off: int = 0) -> dict[str, Any]:
        bps, fixed = FEES.get(p.method, FEES["CARD"])
        # A cancel gives back the rate's part of the fee, never its fixed part.
        fee = apply_rate(amount, bps, fixed) if amount >= 0 else -apply_rate(-amount, bps)
        fee += fee_off
        vat = vat_inside(fee)
        return {
            "mId": "tosspayments", "paymentKey": p.payment_key, "transactionKey": transaction_key,
            "orderId": p.order_id, "currency": "KRW", "method": _method(p, english), "amount": amount,
            "interestFee": 0, "fees": [{"type": "BASE", "fee": fee}], "fee": fee, "supplyAmount": fee - vat,
            "vat": vat, "payOutAmount": amount - fee, "approvedAt": shown["approvedAt"],
            "soldDate": sold.isoformat(), "paidOutDate": add_business_days(sold, PAYOUT_DAYS).isoformat(),
            "card": shown["card"], "easyPay": None, "virtualAccount": shown["virtualAccount"], "transfer": None,
            "mobilePhone": None, "giftCertificate": None,
            "cancel": {**cancel, "cancelAmount": -amount} if cancel is not None else None,
        }

    async def report(self, request: Request) -> Response:
        async def run(owner: str) -> Response:
            q = request.query_params
            start, end = _date(q.get("startDate")), _date(q.get("endDate"))
            if start is None or end is None or start > end:
                raise TossError("INVALID_DATE")
            date_type = q.get("dateType", "soldDate")
            page, size = _number(q.get("page"), 1), _number(q.get("size"), 100)
            if date_type not in DATE_TYPES or page is None or size is None or page < 1 or size < 1:
                raise TossError("INVALID_REQUEST")
            if size > PAGE_MAX:
                raise TossError("EXCEED_MAX_QUERY_LIMIT")
            english = request.headers.get("accept-language", "").lower().startswith("en")
            rows = [r for r in self.rows(owner, english) if start.isoformat() <= r[date_type] <= end.isoformat()]
            return Response(orjson.dumps(rows[(page - 1) * size:page * size]), media_type="application/json")
        return await self.sim._api(request, run, post=False)

    # --- the switches ------------------------------------------------------------------------------
    async def switch(self, request: Request) -> Response:
        async def run(owner: str) -> Response:
            faults = self.faults.setdefault(owner, Faults())
            if request.method == "DELETE":
                self.faults.pop(owner, None)
                return _json({"cleared": True})
            if request.method == "GET":
                return _json({"feeOff": faults.fee_off, "missing": sorted(faults.missing),
                              "cancelOff": faults.cancel_off, "unknown": faults.unknown})
            body = await body_of(request)
            kind, by = body.get("kind"), body.get("by", 1)
            if kind not in FAULTS or type(by) is not int:
                raise TossError("INVALID_REQUEST")
            if kind == "unknown_payment":
                amount, order_id = body.get("amount"), body.get("orderId") or "unseen-" + secrets.token_hex(6)
                if type(amount) is not int or amount <= 0 or not isinstance(order_id, str) \
                        or len(order_id) > ORDER_ID_MAX:
                    raise TossError("INVALID_REQUEST")
                now = self.sim.now()
                key = "tgen_" + secrets.token_hex(12)
                self.sim.payments[key] = SimPayment(
                    owner=owner, payment_key=key, order_id=order_id, order_name=order_id, amount=amount,
                    method="CARD", requested_at=now, status="DONE", approved_at=now, balance=amount,
                    last_transaction_key=secrets.token_hex(16))
                faults.unknown.append(key)
                return _json({"kind": kind, "paymentKey": key})
            if kind == "wrong_cancel_amount":
                tx = body.get("transactionKey")
                if not any(c["transactionKey"] == tx for p in self.sim.payments.values() if p.owner == owner
                           for c in p.cancels):
                    raise TossError("NOT_FOUND_PAYMENT")
                faults.cancel_off[str(tx)] = by
                return _json({"kind": kind, "transactionKey": tx, "by": by})
            named = body.get("paymentKey")
            found = self.sim.payments.get(named) if isinstance(named, str) else None
            if found is None or found.owner != owner:
                raise TossError("NOT_FOUND_PAYMENT")
            if kind == "fee_off_by_one":
                faults.fee_off[found.payment_key] = by
            else:
                faults.missing.add(found.payment_key)
            return _json({"kind": kind, "paymentKey": found.payment_key, "by": by})
        return await self.sim._api(request, run, post=False)


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _date(value: str | None) -> date | None:
    if value is None or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _number(value: str | None, default: int) -> int | None:
    if value is None:
        return default
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None
