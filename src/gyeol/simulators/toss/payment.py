"""A payment as the Toss simulator keeps it, and its Payment object in Toss's v1 JSON (docs/toss.md).

A payment the merchant's server creates (`POST /v1/payments`) is `READY` until the buyer authenticates in its
window, then `IN_PROGRESS` until the merchant's confirm; the window helper (`POST /payments`) creates it
authenticated already. Toss's deadlines: 30 minutes for the window, 10 for the confirm after the authentication.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gyeol.core.clock import KST
from gyeol.toss_v1 import METHOD_KO

WINDOW_OPEN = timedelta(minutes=30)
CONFIRM_WINDOW = timedelta(minutes=10)
UNPAID = ("READY", "IN_PROGRESS")


def toss_time(dt: datetime | None) -> str | None:
    return dt.astimezone(KST).isoformat(timespec="seconds") if dt else None


@dataclass
class SimPayment:
    owner: str
    payment_key: str
    order_id: str
    order_name: str
    amount: int
    method: str
    requested_at: datetime
    status: str = "IN_PROGRESS"
    authenticated_at: datetime | None = None  # when the buyer authenticated in the window
    approved_at: datetime | None = None
    balance: int = 0
    cancels: list[dict[str, Any]] = field(default_factory=list)
    last_transaction_key: str | None = None
    secret: str | None = None
    virtual_account: dict[str, Any] | None = None
    failure: dict[str, str] | None = None
    success_url: str | None = None
    fail_url: str | None = None

    def out_of_time(self, now: datetime) -> bool:
        """Whether the payment's window, or its confirm after the authentication, ran out of time."""
        if self.status == "READY":
            return now > self.requested_at + WINDOW_OPEN
        return self.status == "IN_PROGRESS" and now > (self.authenticated_at or self.requested_at) + CONFIRM_WINDOW

    def to_json(self, base: str, english: bool) -> dict[str, Any]:
        unpaid = self.status in UNPAID
        vat = round(self.amount / 11) if unpaid else round(self.balance / 11)
        supplied = (self.amount if unpaid else self.balance) - vat
        method = self.method if english else METHOD_KO.get(self.method, self.method)
        card = None
        if self.method == "CARD" and self.status not in (*UNPAID, "EXPIRED"):
            card = {"amount": self.amount, "issuerCode": "61", "acquirerCode": "31", "number": "43301234****123*",
                    "installmentPlanMonths": 0, "approveNo": self.payment_key[-8:].upper(), "useCardPoint": False,
                    "cardType": "CREDIT" if english else "신용", "ownerType": "PERSONAL" if english else "개인",
                    "acquireStatus": "READY", "isInterestFree": False, "interestPayer": None}
        return {
            "mId": "tosspayments", "version": "2022-11-16", "paymentKey": self.payment_key, "type": "NORMAL",
            "orderId": self.order_id, "orderName": self.order_name, "currency": "KRW", "country": "KR",
            "method": None if self.status == "EXPIRED" else method, "status": self.status,
            "requestedAt": toss_time(self.requested_at), "approvedAt": toss_time(self.approved_at),
            "totalAmount": self.amount, "balanceAmount": self.amount if unpaid else self.balance,
            "suppliedAmount": supplied, "vat": vat, "taxFreeAmount": 0, "taxExemptionAmount": 0,
            "useEscrow": False, "cultureExpense": False, "isPartialCancelable": True,
            "lastTransactionKey": self.last_transaction_key, "transactionKey": None, "secret": self.secret,
            "metadata": None, "failure": self.failure, "card": card, "virtualAccount": self.virtual_account,
            "transfer": None, "mobilePhone": None, "giftCertificate": None, "easyPay": None, "cashReceipt": None,
            "cashReceipts": None, "discount": None, "cancels": [dict(c) for c in self.cancels] or None,
            "receipt": {"url": f"{base}/receipts/{self.payment_key}"} if self.approved_at else None,
            "checkout": {"url": f"{base}/checkout/{self.payment_key}"},
        }
