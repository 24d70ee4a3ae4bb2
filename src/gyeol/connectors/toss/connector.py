"""The Toss Payments connector: Toss's v1 wire format over httpx, with each merchant's own secret key.

It serves the core's attempt flow (authorize = confirm, void/refund = cancel, lookup by orderId) and the
KeyedPG reads the shop face's webhook uses. A timeout, a connection error or a 5xx leaves the outcome unknown
(ConnectorUnavailable); every other answer, a rejection included, is a result.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from gyeol.connectors.base import (
    AttemptResult,
    AuthorizeRequest,
    CardData,
    ConnectorUnavailable,
    FollowUpRequest,
    KeyedCancel,
    KeyedConfirm,
    KeyedResult,
    PgPayment,
    TokenInfo,
)
from gyeol.connectors.toss.codes import NEUTRAL_STATUS
from gyeol.core.merchants import repository as merchants_repo
from gyeol.crypto import DataCipher
from gyeol.db.engine import Database
from gyeol.toss_v1 import METHOD_CODE


def toss_credentials(settings: dict[str, Any] | None) -> str | None:
    """The merchant's encrypted Toss secret key, where one is configured."""
    pg = (settings or {}).get("pg") or {}
    value = (pg.get("toss") or {}).get("secretKey")
    return value if isinstance(value, str) else None


def to_pg_payment(body: dict[str, Any]) -> PgPayment:
    method = body.get("method")
    return PgPayment(
        payment_key=str(body["paymentKey"]), order_id=str(body.get("orderId") or ""),
        status=NEUTRAL_STATUS.get(str(body.get("status")), "pending"),
        total_amount=int(body.get("totalAmount") or 0), balance_amount=int(body.get("balanceAmount") or 0),
        currency=str(body.get("currency") or "KRW"), method=METHOD_CODE.get(method, method) if method else None,
        approved_at=body.get("approvedAt"), last_transaction_key=body.get("lastTransactionKey"),
        secret=body.get("secret"), raw=body,
    )


class TossConnector:
    name = "toss"

    def __init__(self, db: Database, cipher: DataCipher, base_url: str, *, timeout: float = 10.0,
                 client: httpx.AsyncClient | None = None) -> None:
        self.db = db
        self.cipher = cipher
        self.base_url = base_url.rstrip("/")
        self.client = client or httpx.AsyncClient(timeout=timeout)

    async def secret_key(self, merchant_id: str) -> str | None:
        async with self.db.read() as conn:
            # A prepared read: every paymentKey flow asks whether the merchant has Toss credentials
            # (`Connectors.keyed_for`).
            settings = await merchants_repo.settings(conn, merchant_id)
        return self.cipher.decrypt(toss_credentials(settings))

    async def configured(self, merchant_id: str) -> bool:
        return await self.secret_key(merchant_id) is not None

    async def _call(self, merchant_id: str, method: str, path: str, body: dict[str, Any] | None = None,
                    idempotency_key: str | None = None, fault: str | None = None) -> tuple[int, dict[str, Any]]:
        key = await self.secret_key(merchant_id)
        if key is None:
            raise ConnectorUnavailable("toss: the merchant has no Toss secret key")
        headers = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if fault and fault.isupper():
            headers["TossPayments-Test-Code"] = fault
        try:
            r = await self.client.request(method, self.base_url + path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ConnectorUnavailable(f"toss: {type(exc).__name__}") from exc
        if r.status_code >= 500 or r.status_code == 409:
            # A 5xx is temporary at Toss and 409 means the first try is still running: the outcome is unknown.
            raise ConnectorUnavailable(f"toss: HTTP {r.status_code}")
        try:
            data = r.json()
        except ValueError:
            raise ConnectorUnavailable("toss: the answer was not JSON") from None
        return r.status_code, data if isinstance(data, dict) else {}

    # --- KeyedPG --------------------------------------------------------------------------------
    async def confirm(self, req: KeyedConfirm) -> KeyedResult:
        status, body = await self._call(req.merchant_id, "POST", "/v1/payments/confirm",
                                        {"paymentKey": req.payment_key, "orderId": req.order_id,
                                         "amount": req.amount}, idempotency_key=req.reference, fault=req.fault)
        if status == 200:
            return KeyedResult(payment=to_pg_payment(body))
        if body.get("code") == "ALREADY_PROCESSED_PAYMENT":
            # Approved before (a retry whose answer was lost, or someone else's confirm): accept what matches.
            found = await self.get_payment(req.merchant_id, req.payment_key)
            if found is not None and found.status == "approved" and found.order_id == req.order_id \
                    and found.total_amount == req.amount:
                return KeyedResult(payment=found)
        return KeyedResult(error_code=str(body.get("code") or "UNKNOWN"), error_message=body.get("message"),
                           http_status=status)

    async def cancel(self, req: KeyedCancel) -> KeyedResult:
        payload: dict[str, Any] = {"cancelReason": req.reason}
        if req.amount is not None:
            payload["cancelAmount"] = req.amount
        status, body = await self._call(req.merchant_id, "POST", f"/v1/payments/{req.payment_key}/cancel", payload,
                                        idempotency_key=req.reference, fault=req.fault)
        if status == 200:
            return KeyedResult(payment=to_pg_payment(body))
        return KeyedResult(error_code=str(body.get("code") or "UNKNOWN"), error_message=body.get("message"),
                           http_status=status)

    async def get_payment(self, merchant_id: str, payment_key: str) -> PgPayment | None:
        status, body = await self._call(merchant_id, "GET", f"/v1/payments/{payment_key}")
        return to_pg_payment(body) if status == 200 else None

    async def get_by_order(self, merchant_id: str, order_id: str) -> PgPayment | None:
        status, body = await self._call(merchant_id, "GET", f"/v1/payments/orders/{order_id}")
        return to_pg_payment(body) if status == 200 else None

    # --- the core's attempt flow ------------------------------------------------------------------
    async def authorize(self, req: AuthorizeRequest) -> AttemptResult:
        if not req.payment_key or not req.order_id:
            return AttemptResult("failed", failure_code="unsupported_method",
                                 failure_message="Toss confirms payments its own window created (a paymentKey).")
        result = await self.confirm(KeyedConfirm(reference=req.reference, merchant_id=req.merchant_id,
                                                 payment_key=req.payment_key, order_id=req.order_id,
                                                 amount=req.amount, currency=req.currency, fault=req.fault))
        return self._attempt(result)

    @staticmethod
    def _attempt(result: KeyedResult) -> AttemptResult:
        pg = result.payment
        if pg is None:
            return AttemptResult("failed", failure_code=result.error_code, failure_message=result.error_message,
                                 extra={"httpStatus": result.http_status})
        if pg.status == "approved":
            return AttemptResult("succeeded", pg_transaction_id=pg.payment_key, approved_at=pg.approved_at)
        if pg.status in ("failed", "expired", "canceled"):
            failure: Any = pg.raw.get("failure")
            code = failure.get("code") if isinstance(failure, dict) else None
            return AttemptResult("failed", pg_transaction_id=pg.payment_key,
                                 failure_code=str(code or pg.status.upper()))
        raise ConnectorUnavailable(f"toss: payment is {pg.status}")  # still pending at Toss: ask again later

    async def capture(self, req: FollowUpRequest) -> AttemptResult:
        return AttemptResult("failed", failure_code="unsupported_operation",
                             failure_message="Toss card payments are captured at confirm.")

    async def void(self, req: FollowUpRequest) -> AttemptResult:
        return await self.refund(req)

    async def refund(self, req: FollowUpRequest) -> AttemptResult:
        result = await self.cancel(KeyedCancel(reference=req.reference, merchant_id=req.merchant_id,
                                               payment_key=req.pg_transaction_id, reason=req.reason or "refund",
                                               amount=req.amount, fault=req.fault))
        if result.payment is None:
            return AttemptResult("failed", failure_code=result.error_code, failure_message=result.error_message,
                                 extra={"httpStatus": result.http_status})
        return AttemptResult("succeeded", pg_transaction_id=result.payment.last_transaction_key)

    async def lookup(self, merchant_id: str, reference: str, *, order_id: str | None = None,
                     payment_key: str | None = None, amount: int | None = None, kind: str = "authorize"
                     ) -> AttemptResult:
        """Settle an attempt whose answer was lost: Toss is asked by orderId, as its docs advise."""
        if kind == "refund" and payment_key:
            found = await self.get_payment(merchant_id, payment_key)
            cancels: Any = (found.raw.get("cancels") if found else None) or []
            if any(c.get("cancelAmount") == amount for c in cancels):
                return AttemptResult("succeeded", pg_transaction_id=found.last_transaction_key if found else None)
            return AttemptResult("not_found")
        found = await self.get_by_order(merchant_id, order_id) if order_id else None
        if found is None or found.status == "pending":
            return AttemptResult("not_found")  # the confirm never reached Toss: nothing was taken
        return self._attempt(KeyedResult(payment=found))

    async def tokenize(self, merchant_id: str, card: CardData) -> TokenInfo:
        raise ConnectorUnavailable("toss: card data goes to the card-capable PG, not Toss")

    async def describe_token(self, merchant_id: str, token: str) -> TokenInfo | None:
        return None
