"""The buyer's side of a payment: what Gyeol's hosted checkout may show and do for one payment.

The buyer holds only the payment's client token, so every call checks it (in constant time) against the
payment named in the address: a token opens its own payment's checkout and nothing else. Money still moves only
through `PaymentService` (confirm, and the PG's answer once the buyer is back from a 3-D Secure challenge), as the
payment's merchant. A Toss-style payment's window only authenticates the buyer (`authenticated.py`): its merchant's
confirm charges, as Toss's window leaves it to the merchant's confirm.
A card reaches this module only to be tokenized at the PG; the confirm carries the token.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from gyeol.connectors.base import CardData
from gyeol.core.context import Caller
from gyeol.core.errors import DomainError
from gyeol.core.payments import accounts
from gyeol.core.payments import repository as repo
from gyeol.core.payments.authenticated import charged_at_confirm
from gyeol.core.payments.commands import BankInfo, MethodSpec
from gyeol.core.payments.records import Account, Attempt, Payment
from gyeol.core.payments.service import PaymentService
from gyeol.models import merchants, orders, payments

Stage = Literal["pay", "expired", "closed", "paid", "authenticated", "processing", "challenge", "deposit"]
METHODS = ("card", "transfer", "virtual_account")
# The core's method types for the checkout's choices, and back.
METHOD_TYPE = {"card": "card", "transfer": "bank", "virtual_account": "virtual_account"}
CHOICE = {v: k for k, v in METHOD_TYPE.items()}
# Korean banks accept won only: other currencies are paid by card.
BANK_CURRENCIES = ("KRW",)


@dataclass(frozen=True)
class CheckoutState:
    payment: Payment
    merchant_name: str
    order_name: str
    stage: Stage
    methods: tuple[str, ...]
    account: Account | None = None  # the issued virtual account (decrypted), while it waits and after
    failure: tuple[str, str] | None = None  # the last attempt's (code, message) when it was declined

    @property
    def payment_id(self) -> str:
        return self.payment.id


def _not_found() -> DomainError:
    # One answer for an unknown payment and a wrong token: the page must not tell them apart.
    return DomainError("not_found", "CHECKOUT_NOT_FOUND", "No such checkout.")


def allowed_methods(p: Payment, merchant_settings: dict[str, Any]) -> tuple[str, ...]:
    """The checkout's choices: the merchant's (all by default), card only outside won, and the payment's own
    method when it was created for one and never tried."""
    configured = merchant_settings.get("checkoutMethods") or METHODS
    chosen = [m for m in METHODS if m in configured]
    if p.currency not in BANK_CURRENCIES:
        chosen = [m for m in chosen if m == "card"]
    if p.status == "created" and p.method_type in CHOICE:
        chosen = [m for m in chosen if m == CHOICE[p.method_type]]
    return tuple(chosen)


class CheckoutService:
    def __init__(self, payments_service: PaymentService) -> None:
        self.core = payments_service
        self.db = payments_service.db
        self.clock = payments_service.clock

    # --- reads --------------------------------------------------------------------------------
    async def open(self, payment_id: str, token: str) -> CheckoutState:
        """The payment behind a checkout address, if the token is its own; raises not_found otherwise."""
        q = (sa.select(payments, merchants.c.name.label("merchant_name"),
                       merchants.c.settings.label("merchant_settings"), orders.c.order_name)
             .join(merchants, merchants.c.id == payments.c.merchant_id)
             .join(orders, orders.c.id == payments.c.order_pk)
             .where(payments.c.id == payment_id))
        async with self.db.read() as conn:
            row = (await conn.execute(q)).mappings().first()
            if row is None or not hmac.compare_digest(str(row["client_token"]).encode(), token.encode()) \
                    or self.core.pgs.hosts_window(row["connector"]):  # its buyer pays in its PG's own window
                raise _not_found()
            p = Payment(**{k: v for k, v in row.items() if k not in ("merchant_name", "merchant_settings",
                                                                      "order_name")})
            attempt = await repo.get_attempt(conn, p.open_attempt_id) if p.open_attempt_id else None
            account = await accounts.get(conn, payment_id)
        stage = self._stage(p, attempt)
        failure = None
        if p.status == "failed":
            failure = (p.failure_reason or "processing_error", p.failure_message or "")
        issued = None
        if account is not None and account["kind"] == "virtual_account":
            issued = accounts.opened(account, self.core.cipher)
        return CheckoutState(payment=p, merchant_name=row["merchant_name"],
                             order_name=row["order_name"] or p.order_id, stage=stage,
                             methods=allowed_methods(p, row["merchant_settings"] or {}), account=issued,
                             failure=failure)

    async def challenge_token(self, payment_id: str) -> str | None:
        """The client token of a test-mode payment waiting on its 3-D Secure challenge, for the address the test PG
        gives API callers (`nextAction.redirectUrl`): like a bank's challenge page, it is reached by the transaction
        alone. None for anything else."""
        async with self.db.read() as conn:
            p = await repo.get_any(conn, payment_id)
            attempt = await repo.get_attempt(conn, p.open_attempt_id) if p and p.open_attempt_id else None
        if p is None or p.livemode or self._stage(p, attempt) != "challenge":
            return None
        return p.client_token

    def _stage(self, p: Payment, attempt: Attempt | None) -> Stage:
        status = p.status
        if status in ("authorized", "succeeded", "captured"):
            return "paid"
        if status in ("created", "failed"):
            return "expired" if p.expires_at <= self.clock.now() else "pay"
        if status == "pending":
            if attempt is not None and attempt.status == "authenticated":
                return "authenticated"  # the merchant's confirm charges
            if attempt is not None and attempt.status == "requires_action":
                return "deposit" if p.method_type == "virtual_account" else "challenge"
            return "processing"
        return "closed"  # canceled (an expired intent too), voided, refunded

    # --- the buyer's choices ------------------------------------------------------------------
    async def pay(self, payment_id: str, token: str, method: str, *, card: CardData | None = None,
                  bank_code: str | None = None) -> tuple[CheckoutState, DomainError | None]:
        """Pay with the chosen method. A decline is not raised: it is the returned state's `failure`, and the
        buyer may try again on the same payment. Other refusals (expired, paid meanwhile, PG unreachable) are
        returned beside the state."""
        state = await self.open(payment_id, token)
        if state.stage != "pay" or method not in state.methods:
            return state, DomainError("conflict", "NOT_PAYABLE", "This payment cannot be paid this way now.")
        p = state.payment
        caller = Caller(merchant_id=p.merchant_id, mode="live" if p.livemode else "test")
        try:
            if method == "card":
                if card is None:
                    raise DomainError("validation", "CARD_REQUIRED", "Card details are required.")
                info = await self.core.pgs.tokenize(caller, card)
                spec = MethodSpec(token=info.token)
            elif method == "transfer":
                if not bank_code:
                    raise DomainError("validation", "BANK_REQUIRED", "Choose a bank.")
                spec = MethodSpec(type="bank", bank=BankInfo(bank_code))
            else:
                spec = MethodSpec(type="virtual_account")
            if charged_at_confirm(p) and spec.type != "virtual_account":
                await self.core.authenticate(caller, payment_id, spec)  # no money moves until the merchant confirms
            else:
                await self.core.confirm(caller, payment_id, spec)
            error = None
        except DomainError as err:
            error = None if err.kind == "processing" else err  # a decline shows as the payment's failure
        return await self.open(payment_id, token), error

    async def after_challenge(self, payment_id: str, token: str) -> CheckoutState:
        """The buyer is back from the 3-D Secure challenge, answered at the PG: Gyeol asks the PG for the outcome
        and applies it, as it would on the buyer's return from a bank's page."""
        state = await self.open(payment_id, token)
        if state.stage != "challenge":
            return state
        p = state.payment
        async with self.db.read() as conn:
            attempt = await repo.get_attempt(conn, p.open_attempt_id) if p.open_attempt_id else None
        if attempt is not None:
            await self.core.resolve_attempt(attempt)
        return await self.open(payment_id, token)
