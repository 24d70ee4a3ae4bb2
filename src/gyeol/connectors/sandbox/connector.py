"""The sandbox PG: a stateful simulator with test cards and fault injection.

It keeps its own books (`sandbox_charges`) in the database so they survive a restart, and it
is idempotent on the caller's reference, as a real PG is on an idempotency key: asking twice
with one reference never charges twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gyeol.connectors.base import (
    AttemptResult,
    AuthorizeRequest,
    CardData,
    ConnectorUnavailable,
    FollowUpRequest,
    Outcome,
    PgPayment,
    TokenInfo,
)
from gyeol.connectors.sandbox.cards import DECLINE_MESSAGES, MAGIC_TOKENS, behavior_of, brand_of
from gyeol.core.clock import Clock, iso
from gyeol.db import sql
from gyeol.db.engine import Database
from gyeol.ids import new_id
from gyeol.models import sandbox_charges as ch
from gyeol.models import sandbox_tokens as tk

BY_REFERENCE = sa.select(ch).where(ch.c.reference == sa.bindparam("reference"))
BY_ID = sa.select(ch).where(ch.c.id == sa.bindparam("id"))
APPROVED_KEY = (
    sa.select(ch).where(ch.c.merchant_id == sa.bindparam("merchant_id"), ch.c.payment_key == sa.bindparam("key"),
                        sa.or_(ch.c.kind == "charge", ch.c.kind == "authorization"), ch.c.status == "succeeded")
    .order_by(ch.c.created_at).limit(1))


@dataclass(frozen=True)
class Transaction:
    payment_id: str | None
    amount: int
    result: AttemptResult
    brand: str | None
    last4: str | None


def _answer(behavior: str) -> tuple[str, str | None]:
    """What the sandbox answers for a test card's behaviour: (charge status, decline code)."""
    if behavior.startswith("decline:"):
        return "failed", behavior.split(":", 1)[1]
    if behavior == "3ds":
        return "requires_action", None
    return "succeeded", None


def virtual_account_for(charge_id: str) -> dict[str, str]:
    """The account the sandbox issues for a charge: a test bank, and a number derived from the charge."""
    digits = str(int(hashlib.sha256(charge_id.encode()).hexdigest(), 16))[:12]
    return {"bankCode": "088", "accountNumber": "9" + digits + "7", "holderName": "결제대행(Gyeol)"}


class SandboxConnector:
    name = "sandbox"

    def __init__(
        self, db: Database, clock: Clock, *, fingerprint_key: bytes, latency_ms: int = 0, public_url: str = ""
    ) -> None:
        self.db = db
        self.clock = clock
        self.fingerprint_key = fingerprint_key
        self.latency_ms = latency_ms
        self.public_url = public_url

    # --- tokens -------------------------------------------------------------------------------
    async def tokenize(self, merchant_id: str, card: CardData) -> TokenInfo:
        info = TokenInfo(
            token=new_id("tok"),
            brand=brand_of(card.number),
            last4=card.number[-4:],
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            fingerprint=hmac.new(self.fingerprint_key, card.number.encode(), hashlib.sha256).hexdigest(),
        )
        async with self.db.tx() as conn:
            await conn.execute(
                tk.insert().values(
                    id=info.token,
                    merchant_id=merchant_id,
                    brand=info.brand,
                    last4=info.last4,
                    exp_month=info.exp_month,
                    exp_year=info.exp_year,
                    behavior=behavior_of(card.number),
                    fingerprint=info.fingerprint,
                    created_at=self.clock.now(),
                )
            )
        return info

    async def describe_token(self, merchant_id: str, token: str) -> TokenInfo | None:
        row = await self._token(merchant_id, token)
        if row is None:
            return None
        return TokenInfo(token, row["brand"], row["last4"], row["exp_month"], row["exp_year"], row["fingerprint"])

    async def _token(self, merchant_id: str, token: str) -> dict[str, Any] | None:
        if token in MAGIC_TOKENS:
            brand, last4, behavior = MAGIC_TOKENS[token]
            year = self.clock.now().year + 5
            fp = hashlib.sha256(token.encode()).hexdigest()
            return {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": year, "behavior": behavior,
                    "fingerprint": fp}
        async with self.db.read() as conn:
            row = (
                await conn.execute(sa.select(tk).where(tk.c.id == token, tk.c.merchant_id == merchant_id))
            ).mappings().first()
        return dict(row) if row else None

    # --- money movements ----------------------------------------------------------------------
    async def authorize(self, req: AuthorizeRequest) -> AttemptResult:
        await self._latency(req.fault)
        if req.fault == "error":
            return AttemptResult("failed", failure_code="processing_error",
                                 failure_message="The sandbox PG answered with an internal error.")
        existing = None
        if req.payment_key and req.token is None:
            existing = await self._by_reference(req.reference)
            if existing is None:
                # Toss's ALREADY_PROCESSED_PAYMENT, accepted: the key was approved here before (by anyone).
                done = await self._approved_key(req.merchant_id, req.payment_key)
                if done is not None:
                    if done["amount"] != req.amount or (req.order_id and done["order_id"] != req.order_id):
                        return AttemptResult("failed", failure_code="amount_mismatch",
                                             failure_message="The PG approved this paymentKey for another amount.")
                    return self._result(done)
        if existing is None:
            behavior = "succeed"
            if req.token is not None:
                token_row = await self._token(req.merchant_id, req.token)
                if token_row is None:
                    known = await self._by_reference(req.reference)
                    if known is not None:
                        return self._result(known)
                    return AttemptResult("failed", failure_code="invalid_token",
                                         failure_message="The sandbox does not know this token.")
                behavior = token_row["behavior"]
            if req.method_type == "virtual_account":
                status, code = "requires_action", None  # waiting for the deposit
            else:
                status, code = _answer(behavior)
            # A repeated reference (a retry) finds the first request's charge: the insert is the PG's dedupe.
            existing = await self._record(
                reference=req.reference, merchant_id=req.merchant_id, payment_id=req.payment_id,
                kind="charge" if req.capture else "authorization", status=status, amount=req.amount,
                currency=req.currency, token=req.token, failure_code=code, payment_key=req.payment_key,
                order_id=req.order_id, method=req.method_type,
            )
        if req.fault == "timeout":
            # The PG did the work; the answer is lost on the way back.
            raise ConnectorUnavailable("sandbox: simulated timeout")
        return self._result(existing)

    async def capture(self, req: FollowUpRequest) -> AttemptResult:
        return await self._follow_up("capture", req)

    async def void(self, req: FollowUpRequest) -> AttemptResult:
        return await self._follow_up("void", req)

    async def refund(self, req: FollowUpRequest) -> AttemptResult:
        return await self._follow_up("refund", req)

    async def lookup(self, merchant_id: str, reference: str, *, order_id: str | None = None,
                     payment_key: str | None = None, amount: int | None = None, kind: str = "authorize"
                     ) -> AttemptResult:
        # The sandbox keeps every request under its reference, so the hints other PGs need are not.
        row = await self._by_reference(reference)
        if row is None or row["merchant_id"] != merchant_id:
            return AttemptResult("not_found")
        return self._result(row)

    async def complete_challenge(self, merchant_id: str, payment_id: str, approve: bool) -> dict[str, Any] | None:
        """The buyer answered the 3-D Secure challenge: settle the waiting charge."""
        async with self.db.tx() as conn:
            row = (
                await conn.execute(
                    sa.select(ch).where(ch.c.payment_id == payment_id, ch.c.merchant_id == merchant_id,
                                        ch.c.status == "requires_action")
                )
            ).mappings().first()
            if row is None:
                return None
            status = "succeeded" if approve else "failed"
            code = None if approve else "authentication_failed"
            await conn.execute(
                ch.update().where(ch.c.id == row["id"], ch.c.status == "requires_action")
                .values(status=status, failure_code=code, updated_at=self.clock.now())
            )
        return {**row, "status": status, "failure_code": code}

    async def charges_for(self, merchant_id: str, payment_id: str, payment_key: str | None = None
                          ) -> list[dict[str, Any]]:
        which = ch.c.payment_id == payment_id
        if payment_key:
            which = sa.or_(which, ch.c.payment_key == payment_key)
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(ch).where(which, ch.c.merchant_id == merchant_id).order_by(ch.c.created_at, ch.c.id)
                )
            ).mappings().all()
        return [dict(r) for r in rows]

    # --- seed 003: the buyer pays at the PG with the payment's client token; the app verifies it after ---------
    async def pay(self, merchant_id: str, payment_id: str, amount: int, currency: str, card: CardData
                  ) -> dict[str, Any]:
        """The buyer's own charge at the PG. Each try is its own transaction; nothing in Gyeol changes yet."""
        info = await self.tokenize(merchant_id, card)
        token_row = await self._token(merchant_id, info.token)
        assert token_row is not None
        status, code = _answer(token_row["behavior"])
        if status == "requires_action":  # this flow has no challenge step: the PG refuses
            status, code = "failed", "authentication_required"
        return await self._record(reference=new_id("buyer"), merchant_id=merchant_id, payment_id=payment_id,
                                  kind="charge", status=status, amount=amount, currency=currency,
                                  token=info.token, failure_code=code, method="card")

    async def transaction(self, merchant_id: str, charge_id: str) -> Transaction | None:
        """A charge found by the PG's transaction id: what `POST /payments/complete` verifies."""
        row = await self._by_id(charge_id)
        if row is None or row["merchant_id"] != merchant_id or row["kind"] not in ("charge", "authorization"):
            return None
        token = await self._token(merchant_id, row["token"]) if row["token"] else None
        return Transaction(payment_id=row["payment_id"], amount=row["amount"], result=self._result(row),
                           brand=token["brand"] if token else None, last4=token["last4"] if token else None)

    # --- paymentKey flows: the PG's own view, and a payment confirmed at the PG by someone else ------
    async def _approved_key(self, merchant_id: str, payment_key: str) -> dict[str, Any] | None:
        async with self.db.read() as conn:
            return await sql.one(conn, APPROVED_KEY, {"merchant_id": merchant_id, "key": payment_key})

    async def approve_key(self, merchant_id: str, payment_key: str, order_id: str, amount: int,
                          currency: str = "KRW") -> dict[str, Any]:
        """The buyer paid in the PG's own window and someone confirmed it there (what Toss's window does)."""
        done = await self._approved_key(merchant_id, payment_key)
        if done is not None:
            return done
        return await self._record(reference=f"key:{merchant_id}:{payment_key}", merchant_id=merchant_id,
                                  payment_id=None, kind="charge", status="succeeded", amount=amount,
                                  currency=currency, payment_key=payment_key, order_id=order_id)

    async def get_payment(self, merchant_id: str, payment_key: str) -> PgPayment | None:
        charge = await self._approved_key(merchant_id, payment_key)
        if charge is None:
            return None
        async with self.db.read() as conn:
            refunded = (await conn.execute(sa.select(sa.func.coalesce(sa.func.sum(ch.c.amount), 0)).where(
                ch.c.parent_id == charge["id"], ch.c.kind == "refund", ch.c.status == "succeeded"))).scalar_one()
        balance = charge["amount"] - int(refunded)
        status = "approved" if balance == charge["amount"] else "canceled" if balance == 0 else "partial_canceled"
        return PgPayment(payment_key=payment_key, order_id=charge["order_id"] or "", status=status,
                         total_amount=charge["amount"], balance_amount=balance, currency=charge["currency"],
                         method="CARD", approved_at=iso(charge["created_at"]), last_transaction_key=charge["id"],
                         raw={"chargeId": charge["id"]})

    # --- internals ----------------------------------------------------------------------------
    async def _follow_up(self, kind: str, req: FollowUpRequest) -> AttemptResult:
        await self._latency(req.fault)
        if req.fault == "error":
            return AttemptResult("failed", failure_code="processing_error",
                                 failure_message="The sandbox PG answered with an internal error.")
        existing = await self._by_reference(req.reference)
        if existing is None:
            parent = await self._by_id(req.pg_transaction_id)
            status, code = "succeeded", None
            if parent is None or parent["merchant_id"] != req.merchant_id:
                status, code = "failed", "no_such_charge"
            elif kind == "void" and parent["status"] == "requires_action":
                await self._set_status(parent["id"], "canceled")
            elif kind == "void" and parent["kind"] == "charge":
                status, code = "failed", "charge_already_captured"  # money taken is refunded, not voided
            elif parent["status"] != "succeeded":
                status, code = "failed", "charge_not_settled"
            existing = await self._record(
                reference=req.reference, merchant_id=req.merchant_id, payment_id=req.payment_id, kind=kind,
                status=status, amount=req.amount, currency=req.currency, parent_id=req.pg_transaction_id,
                failure_code=code, payment_key=parent["payment_key"] if parent else None,
            )
        if req.fault == "timeout":
            raise ConnectorUnavailable("sandbox: simulated timeout")
        return self._result(existing)

    async def _latency(self, fault: str | None) -> None:
        ms = self.latency_ms + (2000 if fault == "slow" else 0)
        if ms:
            await asyncio.sleep(ms / 1000)

    def _result(self, row: dict[str, Any]) -> AttemptResult:
        status = row["status"]
        if status == "succeeded":
            outcome: Outcome = "authorized" if row["kind"] == "authorization" else "succeeded"
            return AttemptResult(outcome, pg_transaction_id=row["id"])
        if status == "requires_action" and row.get("method") == "virtual_account":
            return AttemptResult("requires_action", pg_transaction_id=row["id"],
                                 extra={"virtualAccount": virtual_account_for(row["id"])})
        if status == "requires_action":
            url = f"{self.public_url}/sandbox/3ds/{row['payment_id']}"
            return AttemptResult("requires_action", pg_transaction_id=row["id"], next_action_url=url)
        code = row["failure_code"] or "processing_error"
        return AttemptResult("failed", pg_transaction_id=row["id"], failure_code=code,
                             failure_message=DECLINE_MESSAGES.get(code, "The sandbox PG refused the request."))

    async def _record(self, **values: Any) -> dict[str, Any]:
        now = self.clock.now()
        row = {"id": new_id("ch"), "parent_id": None, "token": None, "failure_code": None, **values,
               "created_at": now, "updated_at": now}
        try:
            async with self.db.autocommit() as conn:
                await sql.insert(conn, ch, row)
        except IntegrityError:
            # Two callers raced on one reference: the PG keeps the first.
            found = await self._by_reference(values["reference"])
            assert found is not None
            return found
        return row

    async def _by_reference(self, reference: str) -> dict[str, Any] | None:
        async with self.db.read() as conn:
            return await sql.one(conn, BY_REFERENCE, {"reference": reference})

    async def _by_id(self, charge_id: str) -> dict[str, Any] | None:
        async with self.db.read() as conn:
            return await sql.one(conn, BY_ID, {"id": charge_id})

    async def _set_status(self, charge_id: str, status: str) -> None:
        async with self.db.tx() as conn:
            await conn.execute(ch.update().where(ch.c.id == charge_id).values(status=status,
                                                                              updated_at=self.clock.now()))


    async def get_by_order(self, merchant_id: str, order_id: str) -> PgPayment | None:
        q = sa.select(ch.c.payment_key).where(ch.c.merchant_id == merchant_id, ch.c.order_id == order_id,
                                              ch.c.payment_key.is_not(None), ch.c.status == "succeeded")
        async with self.db.read() as conn:
            key = (await conn.execute(q.limit(1))).scalar()
        return await self.get_payment(merchant_id, key) if key else None
