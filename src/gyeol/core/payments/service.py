"""The payment core's entry point: what the faces, the worker and the reconciler call (`svc.payments.<name>`).

It reads payments itself and hands each money move to the module that owns it:
  intents.py    create, confirm, capture, cancel: check and record, call the PG, apply its answer
  approvals.py  payments the PG approved first: seed 003's complete, the shop's post-approval step
  answers.py    THE one way a PG's answer is applied, whatever brought it; carry_on and the reconciler's look-up
  notices.py    unsigned PG webhooks: the PG is asked, and its answer applied by approvals.py or the refunds
  authenticated.py  Toss-style payments: authenticated in the buyer's window, charged at the merchant's confirm
  windows.py    payments opened at a PG that takes the buyer's payment in a window of its own
  expiry.py     intents, unconfirmed authentications and virtual accounts that ran out of time
with pg_calls.py (every call to a PG, with the merchant's credentials), records.py (the payment and its attempts,
as the core returns them), rows.py (new payments and attempts), repository.py (the SQL, rows in and records out)
and receipts.py (the receipt page's read).
To follow a confirm: `Intents.confirm` -> `Intents.start_authorize` -> `Answers.send` -> `PgCalls.send` ->
`Answers.apply`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gyeol.connectors.base import AttemptResult, PgPayment
from gyeol.core.clock import Clock
from gyeol.core.context import Caller
from gyeol.core.customers.service import CustomerService
from gyeol.core.errors import DomainError
from gyeol.core.orders.service import OrderService
from gyeol.core.pagination import Page
from gyeol.core.payments import accounts, methods, receipts
from gyeol.core.payments import repository as repo
from gyeol.core.payments.answers import Answers
from gyeol.core.payments.approvals import Approvals
from gyeol.core.payments.authenticated import Authentications
from gyeol.core.payments.commands import CancelPolicy, CreateIntent, MethodSpec
from gyeol.core.payments.expiry import Expiry
from gyeol.core.payments.intents import Intents
from gyeol.core.payments.notices import NoticeOutcome, Notices, PgNotice
from gyeol.core.payments.pg_calls import PgCalls
from gyeol.core.payments.records import Account, Attempt, Charge, Created, Payment, Receipt
from gyeol.core.refunds.service import RefundService
from gyeol.core.settlements.records import Settlement
from gyeol.core.staff import audit
from gyeol.crypto import DataCipher
from gyeol.db.engine import Database


class PaymentService:
    def __init__(self, db: Database, clock: Clock, pgs: PgCalls, orders: OrderService,
                 customers: CustomerService, refunds: RefundService, *, base_url: str,
                 intent_ttl: timedelta, cipher: DataCipher, va_ttl: timedelta = timedelta(hours=72),
                 confirm_ttl: timedelta = timedelta(minutes=10)) -> None:
        self.db = db
        self.clock = clock
        self.pgs = pgs
        self.refunds = refunds
        self.cipher = cipher
        self.answers = Answers(db, clock, pgs, cipher=cipher, va_ttl=va_ttl)
        self.intents = Intents(db, clock, pgs, orders, customers, refunds, self.answers, base_url=base_url,
                               intent_ttl=intent_ttl, cipher=cipher)
        self.approvals = Approvals(db, clock, pgs, self.answers, self.intents, intent_ttl=intent_ttl)
        self.authenticated = Authentications(db, clock, pgs, self.answers, self.intents, ttl=confirm_ttl)
        self.expiry = Expiry(db, clock, pgs, self.answers, self.intents, self.authenticated)
        self.notices = Notices(db, clock, pgs, self.approvals, refunds)

    # --- reads --------------------------------------------------------------------------------
    async def get(self, caller: Caller, payment_id: str) -> Charge:
        async with self.db.read() as conn:
            return await repo.get_with_last_attempt(conn, caller, payment_id)

    async def account(self, payment_id: str) -> Account | None:
        """The bank or virtual account behind a payment, decrypted for its owner."""
        async with self.db.read() as conn:
            row = await accounts.get(conn, payment_id)
        return accounts.opened(row, self.cipher) if row else None

    async def get_by_number(self, caller: Caller, payment_number: str) -> Payment:
        async with self.db.read() as conn:
            return await repo.get_by_number(conn, caller, payment_number)

    async def get_payment(self, caller: Caller, payment_id: str) -> Payment:
        async with self.db.read() as conn:
            return await repo.get(conn, caller, payment_id)

    async def list_page(self, caller: Caller, page: int, size: int, status: str | None = None, *,
                        mine: bool = False) -> Page[Payment]:
        async with self.db.read() as conn:
            return await repo.list_page(conn, caller, page, size, status=status, mine=mine)

    async def payable_with_client_token(self, client_token: str) -> Payment:
        """The test-mode payment a buyer pays at the default PG with its client token (seed 003), while it can be
        paid."""
        async with self.db.read() as conn:
            p = await repo.get_by_client_token(conn, client_token)
        if p is None or p.livemode:
            raise DomainError("authentication", "INVALID_CLIENT_TOKEN", "No test-mode payment has this client token.")
        if p.status not in ("created", "failed"):
            raise DomainError("conflict", "PAYMENT_NOT_PAYABLE", f"The payment is {p.status}.",
                              details={"paymentId": p.id, "status": p.status})
        return p

    async def receipt(self, receipt_id: str) -> Receipt | None:
        """The printable receipt of the payment this receipt id was minted for; its id is the only key to it."""
        async with self.db.read() as conn:
            return await receipts.find(conn, receipt_id)

    def checkout_url(self, p: Payment) -> str:
        return self.intents.checkout_url(p)

    def window_url(self, p: Payment) -> str | None:
        """Where the buyer pays `p`, while they may: the window its PG opened for it, while the payment is new, for
        a PG with a window of its own (`windows.py`); else Gyeol's hosted checkout, which also shows a decline, a
        challenge or an authentication that waits for the merchant's confirm."""
        if self.pgs.hosts_window(p.connector):
            return p.next_action_url if p.status == "created" else None
        return self.checkout_url(p) if p.status in ("created", "failed", "pending") else None

    # --- money moves: intents.py --------------------------------------------------------------
    async def create_intent(self, caller: Caller, cmd: CreateIntent, *, fault: str | None = None) -> Created:
        return await self.intents.create_intent(caller, cmd, fault=fault)

    async def confirm(self, caller: Caller, payment_id: str, spec: MethodSpec, *, fault: str | None = None,
                      resume: bool = False) -> Charge:
        return await self.intents.confirm(caller, payment_id, spec, fault=fault, resume=resume)

    async def capture(self, caller: Caller, payment_id: str, amount: int | None, *,
                      fault: str | None = None, note: audit.AuditNote | None = None) -> Charge:
        return await self.intents.capture(caller, payment_id, amount, fault=fault, note=note)

    async def cancel(self, caller: Caller, payment_id: str, reason: str | None = None, *,
                     fault: str | None = None, policy: CancelPolicy | None = None,
                     note: audit.AuditNote | None = None) -> Charge:
        return await self.intents.cancel(caller, payment_id, reason, fault=fault, policy=policy, note=note)

    # --- authenticated in the buyer's window, charged at the merchant's confirm: authenticated.py -----
    async def authenticate(self, caller: Caller, payment_id: str, spec: MethodSpec) -> Payment:
        method = await methods.resolve(self.pgs, self.intents.customers, caller, spec)
        return await self.authenticated.authenticate(caller, payment_id, method)

    async def charge_authenticated(self, caller: Caller, p: Payment, *, fault: str | None = None) -> Charge | None:
        return await self.authenticated.charge(caller, p, fault=fault)

    # --- approved at the PG first: approvals.py -----------------------------------------------
    async def complete(self, caller: Caller, payment_id: str, pg_transaction_id: str, amount: int) -> Charge:
        return await self.approvals.complete(caller, payment_id, pg_transaction_id, amount)

    async def process_payment_after_approval(self, merchant_id: str, pg: PgPayment, *,
                                             connector: str) -> tuple[Payment, Settlement]:
        return await self.approvals.process_payment_after_approval(merchant_id, pg, connector=connector)

    # --- a PG's answers: answers.py -----------------------------------------------------------
    async def apply_result(self, attempt_id: str, result: AttemptResult | None) -> Charge:
        return await self.answers.apply_result(attempt_id, result)

    async def apply_pg_event(self, source: str, event_id: str, type: str, data: dict[str, Any]) -> bool:
        return await self.answers.apply_pg_event(source, event_id, type, data)

    async def apply_pg_notice(self, merchant_id: str, notice: PgNotice) -> NoticeOutcome:
        return await self.notices.apply(merchant_id, notice)

    async def carry_on(self, payment_id: str) -> Charge:
        return await self.answers.carry_on(payment_id)

    async def resolve_attempt(self, a: Attempt) -> Charge:
        return await self.answers.resolve_attempt(a)

    # --- the worker's jobs: expiry.py ---------------------------------------------------------
    async def expire_due(self, limit: int = 500) -> list[str]:
        return await self.expiry.expire_due(limit)

    async def expire_virtual_accounts(self, limit: int = 200) -> list[str]:
        return await self.expiry.expire_virtual_accounts(limit)
