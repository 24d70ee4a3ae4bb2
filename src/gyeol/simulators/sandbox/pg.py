"""The sandbox PG's interface: what a client of the sandbox (its connector, its own test endpoints) may ask of it.

It plays a PG with test cards and fault switches, and keeps its books (`books.py`) in Gyeol's database so they
survive a restart. It is idempotent on the caller's reference, as a real PG is on an idempotency key: asked twice
with one reference, it charges once. Its answers are its own records (plain dicts, its wire format): a charge
row, with `failure_message`, `challenge_url` and `virtual_account` where they apply.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import date
from typing import Any, Protocol

from gyeol.core.clock import Clock, iso
from gyeol.db.engine import Database
from gyeol.ids import new_id
from gyeol.simulators.sandbox import reports
from gyeol.simulators.sandbox.books import Books, Row, TakenReference
from gyeol.simulators.sandbox.cards import DECLINE_MESSAGES, MAGIC_TOKENS, behavior_of, brand_of

INTERNAL_ERROR = {"id": None, "status": "failed", "failure_code": "processing_error",
                  "failure_message": "The sandbox PG answered with an internal error."}


class AnswerLost(Exception):
    """The fault switch `timeout`: the sandbox did the work and its answer is lost on the way back."""


class Card(Protocol):
    @property
    def number(self) -> str: ...
    @property
    def exp_month(self) -> int: ...
    @property
    def exp_year(self) -> int: ...


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
    return {"bank_code": "088", "account_number": "9" + digits + "7", "holder_name": "결제대행(Gyeol)"}


class SandboxPG:
    def __init__(self, db: Database, clock: Clock, *, fingerprint_key: bytes, latency_ms: int = 0,
                 public_url: str = "") -> None:
        self.books = Books(db)
        self.clock = clock
        self.fingerprint_key = fingerprint_key
        self.latency_ms = latency_ms
        self.public_url = public_url

    # --- tokens -------------------------------------------------------------------------------
    async def tokenize(self, merchant_id: str, card: Card) -> Row:
        """A token for a card; the number is read here once and dropped."""
        row = {"id": new_id("tok"), "merchant_id": merchant_id, "brand": brand_of(card.number),
               "last4": card.number[-4:], "exp_month": card.exp_month, "exp_year": card.exp_year,
               "behavior": behavior_of(card.number),
               "fingerprint": hmac.new(self.fingerprint_key, card.number.encode(), hashlib.sha256).hexdigest(),
               "created_at": self.clock.now()}
        await self.books.add_token(row)
        return row

    async def token(self, merchant_id: str, token: str) -> Row | None:
        if token in MAGIC_TOKENS:
            brand, last4, behavior = MAGIC_TOKENS[token]
            return {"id": token, "brand": brand, "last4": last4, "exp_month": 12,
                    "exp_year": self.clock.now().year + 5, "behavior": behavior,
                    "fingerprint": hashlib.sha256(token.encode()).hexdigest()}
        return await self.books.token(merchant_id, token)

    # --- money movements ----------------------------------------------------------------------
    async def charge(self, merchant_id: str, *, reference: str, payment_id: str, amount: int, currency: str,
                     capture: bool, token: str | None, payment_key: str | None, order_id: str | None,
                     method: str, fault: str | None) -> Row:
        """Charge (or, without capture, authorize) a token, a paymentKey approved in the window, or a method that
        waits for the buyer (a virtual account). Raises AnswerLost under the fault switch `timeout`."""
        await self._latency(fault)
        if fault == "error":
            return dict(INTERNAL_ERROR)
        existing = None
        if payment_key and token is None:
            existing = await self.books.by_reference(reference)
            if existing is None:
                # Toss's ALREADY_PROCESSED_PAYMENT, accepted: the key was approved here before (by anyone).
                done = await self.books.approved_key(merchant_id, payment_key)
                if done is not None:
                    if done["amount"] != amount or (order_id and done["order_id"] != order_id):
                        return {"id": None, "status": "failed", "failure_code": "amount_mismatch",
                                "failure_message": "The PG approved this paymentKey for another amount."}
                    return self._answer(done)
        if existing is None:
            behavior = "succeed"
            if token is not None:
                token_row = await self.token(merchant_id, token)
                if token_row is None:
                    known = await self.books.by_reference(reference)
                    if known is not None:
                        return self._answer(known)
                    return {"id": None, "status": "failed", "failure_code": "invalid_token",
                            "failure_message": "The sandbox does not know this token."}
                behavior = token_row["behavior"]
            status, code = ("requires_action", None) if method == "virtual_account" else _answer(behavior)
            # A repeated reference (a retry) finds the first request's charge: the insert is the PG's dedupe.
            existing = await self._record(
                reference=reference, merchant_id=merchant_id, payment_id=payment_id,
                kind="charge" if capture else "authorization", status=status, amount=amount, currency=currency,
                token=token, failure_code=code, payment_key=payment_key, order_id=order_id, method=method)
        if fault == "timeout":
            raise AnswerLost(reference)
        return self._answer(existing)

    async def follow_up(self, kind: str, merchant_id: str, *, reference: str, payment_id: str, parent_id: str,
                        amount: int, currency: str, fault: str | None) -> Row:
        """A capture, void or refund of an earlier charge."""
        await self._latency(fault)
        if fault == "error":
            return dict(INTERNAL_ERROR)
        existing = await self.books.by_reference(reference)
        if existing is None:
            parent = await self.books.by_id(parent_id)
            status, code = "succeeded", None
            if parent is None or parent["merchant_id"] != merchant_id:
                status, code = "failed", "no_such_charge"
            elif kind == "void" and parent["status"] == "requires_action":
                await self.books.set_status(parent["id"], "canceled", self.clock.now())
            elif kind == "void" and parent["kind"] == "charge":
                status, code = "failed", "charge_already_captured"  # money taken is refunded, not voided
            elif parent["status"] != "succeeded":
                status, code = "failed", "charge_not_settled"
            existing = await self._record(
                reference=reference, merchant_id=merchant_id, payment_id=payment_id, kind=kind, status=status,
                amount=amount, currency=currency, parent_id=parent_id, failure_code=code,
                payment_key=parent["payment_key"] if parent else None)
        if fault == "timeout":
            raise AnswerLost(reference)
        return self._answer(existing)

    async def request(self, merchant_id: str, reference: str) -> Row | None:
        """The answer to an earlier request, found by its reference."""
        row = await self.books.by_reference(reference)
        return self._answer(row) if row is not None and row["merchant_id"] == merchant_id else None

    async def transaction(self, merchant_id: str, charge_id: str) -> Row | None:
        """A charge found by its id, with the card it was made with (brand, last4)."""
        row = await self.books.by_id(charge_id)
        if row is None or row["merchant_id"] != merchant_id or row["kind"] not in ("charge", "authorization"):
            return None
        token = await self.token(merchant_id, row["token"]) if row["token"] else None
        return {**self._answer(row), "brand": token["brand"] if token else None,
                "last4": token["last4"] if token else None}

    # --- the buyer's side: 3-D Secure, deposits, and seed 003's payment at the PG --------------
    async def complete_challenge(self, merchant_id: str, payment_id: str, approve: bool) -> Row | None:
        """The buyer answered the 3-D Secure challenge (or paid into the virtual account): settle the waiting
        charge. None when no charge of the payment waits."""
        row = await self.books.waiting(merchant_id, payment_id)
        if row is None:
            return None
        status, code = ("succeeded", None) if approve else ("failed", "authentication_failed")
        await self.books.set_status(row["id"], status, self.clock.now(), only_from="requires_action",
                                    failure_code=code)
        return {**row, "status": status, "failure_code": code}

    async def challenge_waiting(self, merchant_id: str, payment_id: str) -> bool:
        """Whether a card charge of the payment waits on its buyer's 3-D Secure answer."""
        row = await self.books.waiting(merchant_id, payment_id)
        return row is not None and row["method"] != "virtual_account"

    async def pay(self, merchant_id: str, payment_id: str, amount: int, currency: str, card: Card) -> Row:
        """The buyer's own charge at the PG with the payment's client token. Each try is its own charge."""
        token = await self.tokenize(merchant_id, card)
        status, code = _answer(token["behavior"])
        if status == "requires_action":  # this flow has no challenge step: the PG refuses
            status, code = "failed", "authentication_required"
        return await self._record(reference=new_id("buyer"), merchant_id=merchant_id, payment_id=payment_id,
                                  kind="charge", status=status, amount=amount, currency=currency,
                                  token=token["id"], failure_code=code, method="card")

    async def charges_for(self, merchant_id: str, payment_id: str, payment_key: str | None = None) -> list[Row]:
        return await self.books.of_payment(merchant_id, payment_id, payment_key)

    # --- paymentKey flows: the PG's own view, and a payment confirmed at the PG by someone else ------
    async def approve_key(self, merchant_id: str, payment_key: str, order_id: str, amount: int,
                          currency: str = "KRW") -> Row:
        """The buyer paid in the PG's own window and someone confirmed it there (what Toss's window does)."""
        done = await self.books.approved_key(merchant_id, payment_key)
        if done is not None:
            return done
        return await self._record(reference=f"key:{merchant_id}:{payment_key}", merchant_id=merchant_id,
                                  payment_id=None, kind="charge", status="succeeded", amount=amount,
                                  currency=currency, payment_key=payment_key, order_id=order_id)

    async def payment(self, merchant_id: str, *, payment_key: str | None = None,
                      order_id: str | None = None) -> Row | None:
        """A paymentKey's approved payment, by its key or its order: its amounts and its status after refunds."""
        if payment_key is None and order_id is not None:
            payment_key = await self.books.key_of_order(merchant_id, order_id)
        charge = await self.books.approved_key(merchant_id, payment_key) if payment_key else None
        if charge is None:
            return None
        balance = charge["amount"] - await self.books.refunded(charge["id"])
        status = "approved" if balance == charge["amount"] else "canceled" if balance == 0 else "partial_canceled"
        return {"payment_key": payment_key, "order_id": charge["order_id"] or "", "status": status,
                "total_amount": charge["amount"], "balance_amount": balance, "currency": charge["currency"],
                "method": "card", "approved_at": iso(charge["created_at"]), "charge_id": charge["id"]}

    async def settlement_report(self, merchant_id: str, start: date, end: date) -> list[Row]:
        """Its settlement report of the days from `start` to `end` (`reports.py`)."""
        return await reports.report(self.books, merchant_id, start, end)

    # --- internals ----------------------------------------------------------------------------
    async def _latency(self, fault: str | None) -> None:
        ms = self.latency_ms + (2000 if fault == "slow" else 0)
        if ms:
            await asyncio.sleep(ms / 1000)

    def _answer(self, row: Row) -> Row:
        answer: dict[str, Any] = dict(row)
        if row["status"] == "requires_action" and row.get("method") == "virtual_account":
            answer["virtual_account"] = virtual_account_for(row["id"])
        elif row["status"] == "requires_action":
            answer["challenge_url"] = f"{self.public_url}/sandbox/3ds/{row['payment_id']}"
        elif row["status"] != "succeeded":
            code = row["failure_code"] or "processing_error"
            answer["failure_message"] = DECLINE_MESSAGES.get(code, "The sandbox PG refused the request.")
        return answer

    async def _record(self, **values: Any) -> Row:
        now = self.clock.now()
        row = {"id": new_id("ch"), "parent_id": None, "token": None, "failure_code": None, "payment_key": None,
               "order_id": None, "method": None, **values, "created_at": now, "updated_at": now}
        try:
            await self.books.add_charge(row)
        except TakenReference:
            # Two callers raced on one reference: the PG keeps the first.
            found = await self.books.by_reference(values["reference"])
            assert found is not None
            return found
        return row
