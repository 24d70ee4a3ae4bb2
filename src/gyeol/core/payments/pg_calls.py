"""Every call the core makes to a PG, each with no transaction open, through the one connector protocol: the
connector is chosen by name or by the registry, and the merchant's credentials are read and decrypted here and
handed in with the request (a connector keeps none and reads no database).

A money call returns the PG's answer, or None when the PG did not answer (a timeout, a dropped connection) or its
answer tells nothing yet (`unknown`): an answer not known yet, which `answers.apply` records as such, never as a
failure.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from gyeol.connectors.base import (
    AttemptResult,
    AuthorizeRequest,
    CardData,
    Connector,
    ConnectorUnavailable,
    Credentials,
    FollowUpRequest,
    LookupRequest,
    PaymentQuery,
    PgEvent,
    PgPayment,
    ReportQuery,
    ReportRow,
    TokenInfo,
    TokenizeRequest,
    TokenQuery,
)
from gyeol.connectors.registry import Connectors
from gyeol.core.context import Caller
from gyeol.core.merchants import pg_accounts
from gyeol.core.merchants import repository as merchants_repo
from gyeol.core.payments.records import Attempt, Payment
from gyeol.core.refunds.records import Refund
from gyeol.crypto import DataCipher
from gyeol.db.engine import Database


def _known(result: AttemptResult) -> AttemptResult | None:
    return None if result.outcome == "unknown" else result


class PgCalls:
    def __init__(self, db: Database, cipher: DataCipher, connectors: Connectors) -> None:
        self.db = db
        self.cipher = cipher
        self.connectors = connectors

    @property
    def default(self) -> str:
        """The name of the connector a payment that never reached a PG is sent to."""
        return self.connectors.default.name

    def for_method(self, livemode: bool, method_type: str) -> Connector:
        return self.connectors.for_payment(livemode, method_type)

    async def credentials(self, merchant_id: str, connector: Connector) -> Credentials:
        if not connector.needs_secret:
            return Credentials(merchant_id)
        async with self.db.read() as conn:
            settings = await merchants_repo.settings(conn, merchant_id)
        return Credentials(merchant_id, pg_accounts.secret_key(settings, connector.name, self.cipher))

    async def for_key(self, merchant_id: str, livemode: bool) -> Connector:
        """The PG of a paymentKey flow: the merchant's own PG account where it has one."""
        async with self.db.read() as conn:
            settings = await merchants_repo.settings(conn, merchant_id)
        for name, account in pg_accounts.accounts(settings).items():
            connector = self.connectors.get(name)
            if connector is not None and account.get("secretKey"):
                return connector
        return self.connectors.without_account(livemode)

    def event(self, source: str, type: str, data: dict[str, Any]) -> PgEvent | None:
        """A webhook of the PG `source`, its signature checked, in the core's terms; None when it tells of no
        payment's request."""
        return self.connectors.by_name(source).parse_event(type, data)

    # --- cards --------------------------------------------------------------------------------
    async def tokenize(self, caller: Caller, card: CardData) -> TokenInfo:
        pg = self.for_method(caller.livemode, "card")
        return await pg.tokenize(TokenizeRequest(await self.credentials(caller.merchant_id, pg), card))

    async def describe_token(self, caller: Caller, token: str) -> TokenInfo | None:
        pg = self.for_method(caller.livemode, "card")
        return await pg.describe_token(TokenQuery(await self.credentials(caller.merchant_id, pg), token))

    # --- a payment's attempts -----------------------------------------------------------------
    async def send(self, p: Payment, a: Attempt, fault: str | None) -> AttemptResult | None:
        """Send attempt `a` of payment `p` to its PG, under the attempt's id as the PG's idempotency key: sent again
        (a retry, a crash's carry-on), the PG answers the first send's outcome."""
        connector = self.connectors.by_name(a.connector)
        creds = await self.credentials(p.merchant_id, connector)
        try:
            if a.kind == "authorize":
                return _known(await connector.authorize(AuthorizeRequest(
                    creds, reference=a.id, payment_id=p.id, amount=p.amount, currency=p.currency,
                    capture=p.capture_method == "automatic", token=a.pg_token, payment_key=p.payment_key,
                    order_id=p.order_id, method_type=a.method_type or "card", fault=fault)))
            req = FollowUpRequest(creds, reference=a.id, payment_id=p.id, pg_transaction_id=p.pg_transaction_id or "",
                                  amount=a.amount, currency=p.currency, fault=fault)
            call = {"capture": connector.capture, "void": connector.void}[a.kind]
            return _known(await call(req))
        except ConnectorUnavailable:
            return None

    async def ask(self, a: Attempt, p: Payment) -> AttemptResult | None:
        """What the PG says became of attempt `a`, whose answer was lost or is still awaited."""
        connector = self.connectors.by_name(a.connector)
        try:
            return _known(await connector.lookup(LookupRequest(
                await self.credentials(p.merchant_id, connector), kind=a.kind, reference=a.id, payment_id=p.id,
                amount=a.amount, order_id=p.order_id, payment_key=p.payment_key,
                pg_transaction_id=a.pg_transaction_id)))
        except ConnectorUnavailable:
            return None

    async def find_charge(self, caller: Caller, payment_id: str, pg_transaction_id: str,
                          amount: int) -> tuple[str, AttemptResult | None]:
        """A charge the buyer made at the card PG (seed 003): the connector's name and the PG's word on it."""
        connector = self.for_method(caller.livemode, "card")
        try:
            found = await connector.lookup(LookupRequest(
                await self.credentials(caller.merchant_id, connector), kind="authorize", reference=None,
                payment_id=payment_id, amount=amount, pg_transaction_id=pg_transaction_id))
        except ConnectorUnavailable:
            return connector.name, None
        return connector.name, _known(found)

    async def find_payment(self, merchant_id: str, livemode: bool, *, payment_key: str | None = None,
                           order_id: str | None = None) -> tuple[str, PgPayment | None]:
        """A payment the PG's own window created, as the merchant's PG sees it: the connector's name and it."""
        connector = await self.for_key(merchant_id, livemode)
        found = await connector.find_payment(PaymentQuery(await self.credentials(merchant_id, connector),
                                                          payment_key=payment_key, order_id=order_id))
        return connector.name, found

    # --- reports ------------------------------------------------------------------------------
    async def report(self, merchant_id: str, pg: str, start: date, end: date) -> list[ReportRow]:
        """The settlement report of the PG `pg` for the merchant's sales from `start` to `end` (Korean days).
        Raises ConnectorUnavailable when the PG gave none."""
        connector = self.connectors.by_name(pg)
        return await connector.settlement_report(ReportQuery(await self.credentials(merchant_id, connector), start,
                                                             end))

    # --- refunds ------------------------------------------------------------------------------
    async def refund(self, r: Refund, p: Payment, fault: str | None) -> AttemptResult | None:
        """Send refund `r` to its PG, under its id as the PG's idempotency key."""
        connector = self.connectors.by_name(r.connector)
        try:
            return _known(await connector.refund(FollowUpRequest(
                await self.credentials(p.merchant_id, connector), reference=r.id, payment_id=p.id,
                pg_transaction_id=p.pg_transaction_id or "", amount=r.amount, currency=p.currency, reason=r.reason,
                fault=fault)))
        except ConnectorUnavailable:
            return None

    async def ask_refund(self, r: Refund, p: Payment | None) -> AttemptResult | None:
        """What the PG says became of refund `r`, whose answer was lost."""
        connector = self.connectors.by_name(r.connector)
        try:
            return _known(await connector.lookup(LookupRequest(
                await self.credentials(r.merchant_id, connector), kind="refund", reference=r.id,
                payment_id=r.payment_id, amount=r.amount, order_id=p.order_id if p else None,
                payment_key=p.pg_transaction_id if p else None)))
        except ConnectorUnavailable:
            return None
