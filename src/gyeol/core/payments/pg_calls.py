"""Every call the core makes to a PG, each with no transaction open, through the one connector protocol: the
connector is chosen by name or by the registry, and the merchant's credentials are read and decrypted here and
handed in with the request (a connector keeps none and reads no database).

A money call returns the PG's answer, or None when the PG did not answer (a timeout, a dropped connection) or its
answer tells nothing yet (`unknown`): an answer not known yet, which `answers.apply` records as such, never as a
failure.

Each call is reported to `observe` (the metrics) with its connector, operation, outcome and duration: `succeeded`
(the PG answered: a success, a lookup's "no such request", a challenge to the buyer), `declined` (it refused),
`timeout` (no answer, or none the connector could read: `ConnectorUnavailable`), `unknown` (an answer that tells no
outcome yet, or the call failed some other way).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

from gyeol.connectors.base import (
    AttemptResult,
    AuthorizeRequest,
    CardData,
    Connector,
    ConnectorUnavailable,
    Credentials,
    FollowUpRequest,
    LookupRequest,
    OpenedWindow,
    PaymentQuery,
    PgEvent,
    PgPayment,
    ReportQuery,
    ReportRow,
    TokenInfo,
    TokenizeRequest,
    TokenQuery,
    WindowRequest,
)
from gyeol.connectors.registry import Connectors
from gyeol.core.context import Caller
from gyeol.core.errors import DomainError
from gyeol.core.merchants import pg_accounts
from gyeol.core.merchants import repository as merchants_repo
from gyeol.core.payments.records import Attempt, Payment
from gyeol.core.refunds.records import Refund
from gyeol.crypto import DataCipher
from gyeol.db.engine import Database

T = TypeVar("T")
# Told of each call: connector, operation, outcome, seconds.
PgCallObserver = Callable[[str, str, str, float], None]


def _known(result: AttemptResult) -> AttemptResult | None:
    return None if result.outcome == "unknown" else result


def _outcome(answer: object) -> str:
    if isinstance(answer, AttemptResult):
        return {"failed": "declined", "unknown": "unknown"}.get(answer.outcome, "succeeded")
    if isinstance(answer, OpenedWindow) and answer.payment_key is None:
        return "declined"
    return "succeeded"


class PgCalls:
    def __init__(self, db: Database, cipher: DataCipher, connectors: Connectors, *,
                 observe: PgCallObserver | None = None) -> None:
        self.db = db
        self.cipher = cipher
        self.connectors = connectors
        self.observe = observe

    async def _call(self, connector: Connector, operation: str, call: Awaitable[T]) -> T:
        """The one place a connector is called: the call, timed and reported with its outcome."""
        outcome, began = "unknown", time.perf_counter()
        try:
            answer = await call
            outcome = _outcome(answer)
            return answer
        except ConnectorUnavailable:
            outcome = "timeout"
            raise
        except DomainError:
            outcome = "declined"
            raise
        finally:
            if self.observe is not None:
                self.observe(connector.name, operation, outcome, time.perf_counter() - began)

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
        return self._credentials(merchant_id, connector, settings)

    def _credentials(self, merchant_id: str, connector: Connector, settings: dict[str, Any]) -> Credentials:
        if not connector.needs_secret:
            return Credentials(merchant_id)
        return Credentials(merchant_id, pg_accounts.secret_key(settings, connector.name, self.cipher))

    async def _own_pg(self, merchant_id: str) -> tuple[Connector | None, dict[str, Any]]:
        """The merchant's own PG (an account of its at a PG Gyeol has a connector for), and its settings."""
        async with self.db.read() as conn:
            settings = await merchants_repo.settings(conn, merchant_id)
        for name, account in pg_accounts.accounts(settings).items():
            connector = self.connectors.get(name)
            if connector is not None and account.get("secretKey"):
                return connector, settings
        return None, settings

    async def for_key(self, merchant_id: str, livemode: bool) -> Connector:
        """The PG of a paymentKey flow: the merchant's own PG account where it has one."""
        own, _ = await self._own_pg(merchant_id)
        return own or self.connectors.without_account(livemode)

    # --- a PG's own window --------------------------------------------------------------------
    def hosts_window(self, connector: str | None) -> bool:
        """Whether the PG named `connector` takes the buyer's payment in a window of its own."""
        found = self.connectors.get(connector) if connector else None
        return found is not None and found.hosts_window

    async def window_host(self, merchant_id: str) -> tuple[Connector, Credentials] | None:
        """The merchant's own PG, with the merchant's credentials there, when it takes the buyer's payment in a
        window of its own; None when Gyeol's hosted checkout is the buyer's window."""
        own, settings = await self._own_pg(merchant_id)
        if own is None or not own.hosts_window:
            return None
        return own, self._credentials(merchant_id, own, settings)

    async def open_window(self, connector: Connector, req: WindowRequest) -> OpenedWindow | None:
        """The payment the PG opened for its window, or its refusal; None when the PG did not answer (the same
        request sent again answers the same payment: `req.reference` is its idempotency key)."""
        try:
            return await self._call(connector, "open_window", connector.open_window(req))
        except ConnectorUnavailable:
            return None

    def event(self, source: str, type: str, data: dict[str, Any]) -> PgEvent | None:
        """A webhook of the PG `source`, its signature checked, in the core's terms; None when it tells of no
        payment's request."""
        return self.connectors.by_name(source).parse_event(type, data)

    # --- cards --------------------------------------------------------------------------------
    async def tokenize(self, caller: Caller, card: CardData) -> TokenInfo:
        pg = self.for_method(caller.livemode, "card")
        return await self._call(pg, "tokenize", pg.tokenize(
            TokenizeRequest(await self.credentials(caller.merchant_id, pg), card)))

    async def describe_token(self, caller: Caller, token: str) -> TokenInfo | None:
        pg = self.for_method(caller.livemode, "card")
        return await self._call(pg, "describe_token", pg.describe_token(
            TokenQuery(await self.credentials(caller.merchant_id, pg), token)))

    # --- a payment's attempts -----------------------------------------------------------------
    async def send(self, p: Payment, a: Attempt, fault: str | None) -> AttemptResult | None:
        """Send attempt `a` of payment `p` to its PG, under the attempt's id as the PG's idempotency key: sent again
        (a retry, a crash's carry-on), the PG answers the first send's outcome."""
        connector = self.connectors.by_name(a.connector)
        creds = await self.credentials(p.merchant_id, connector)
        try:
            if a.kind == "authorize":
                return _known(await self._call(connector, "authorize", connector.authorize(AuthorizeRequest(
                    creds, reference=a.id, payment_id=p.id, amount=p.amount, currency=p.currency,
                    capture=p.capture_method == "automatic", token=a.pg_token, payment_key=p.payment_key,
                    order_id=p.order_id, method_type=a.method_type or "card", fault=fault))))
            req = FollowUpRequest(creds, reference=a.id, payment_id=p.id, pg_transaction_id=p.pg_transaction_id or "",
                                  amount=a.amount, currency=p.currency, fault=fault)
            call = {"capture": connector.capture, "void": connector.void}[a.kind]
            return _known(await self._call(connector, a.kind, call(req)))
        except ConnectorUnavailable:
            return None

    async def ask(self, a: Attempt, p: Payment) -> AttemptResult | None:
        """What the PG says became of attempt `a`, whose answer was lost or is still awaited."""
        connector = self.connectors.by_name(a.connector)
        try:
            return _known(await self._call(connector, "lookup", connector.lookup(LookupRequest(
                await self.credentials(p.merchant_id, connector), kind=a.kind, reference=a.id, payment_id=p.id,
                amount=a.amount, order_id=p.order_id, payment_key=p.payment_key,
                pg_transaction_id=a.pg_transaction_id))))
        except ConnectorUnavailable:
            return None

    async def find_charge(self, caller: Caller, payment_id: str, pg_transaction_id: str,
                          amount: int) -> tuple[str, AttemptResult | None]:
        """A charge the buyer made at the card PG (seed 003): the connector's name and the PG's word on it."""
        connector = self.for_method(caller.livemode, "card")
        try:
            found = await self._call(connector, "lookup", connector.lookup(LookupRequest(
                await self.credentials(caller.merchant_id, connector), kind="authorize", reference=None,
                payment_id=payment_id, amount=amount, pg_transaction_id=pg_transaction_id)))
        except ConnectorUnavailable:
            return connector.name, None
        return connector.name, _known(found)

    async def find_payment(self, merchant_id: str, livemode: bool, *, payment_key: str | None = None,
                           order_id: str | None = None) -> tuple[str, PgPayment | None]:
        """A payment the PG's own window created, as the merchant's PG sees it: the connector's name and it."""
        connector = await self.for_key(merchant_id, livemode)
        found = await self._call(connector, "find_payment", connector.find_payment(PaymentQuery(
            await self.credentials(merchant_id, connector), payment_key=payment_key, order_id=order_id)))
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
            return _known(await self._call(connector, "refund", connector.refund(FollowUpRequest(
                await self.credentials(p.merchant_id, connector), reference=r.id, payment_id=p.id,
                pg_transaction_id=p.pg_transaction_id or "", amount=r.amount, currency=p.currency, reason=r.reason,
                fault=fault))))
        except ConnectorUnavailable:
            return None

    async def ask_refund(self, r: Refund, p: Payment | None) -> AttemptResult | None:
        """What the PG says became of refund `r`, whose answer was lost."""
        connector = self.connectors.by_name(r.connector)
        try:
            return _known(await self._call(connector, "lookup", connector.lookup(LookupRequest(
                await self.credentials(r.merchant_id, connector), kind="refund", reference=r.id,
                payment_id=r.payment_id, amount=r.amount, order_id=p.order_id if p else None,
                payment_key=p.pg_transaction_id if p else None, reason=r.reason))))
        except ConnectorUnavailable:
            return None
