"""The connector to the sandbox PG: the core's neutral requests in the sandbox's terms, its answers back in the
core's. It reaches the sandbox through the sandbox's interface (`gyeol.simulators.sandbox.pg.SandboxPG`), handed in
at construction, the way the Toss connector reaches Toss through httpx; it keeps nothing itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from gyeol.connectors.base import (
    AttemptResult,
    AuthorizeRequest,
    ConnectorUnavailable,
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
from gyeol.connectors.sandbox import transformers
from gyeol.connectors.sandbox.schemas import Charge, EventData, KeyedPayment, ReportLine, Token
from gyeol.simulators.sandbox.pg import AnswerLost

if TYPE_CHECKING:
    from gyeol.simulators.sandbox.pg import SandboxPG


def _charge(answer: object) -> Charge:
    try:
        return Charge.model_validate(answer)
    except ValidationError as exc:  # an answer it cannot read: the outcome is not known
        raise ConnectorUnavailable("sandbox: unreadable answer") from exc


class SandboxConnector:
    name = "sandbox"
    needs_secret = False  # the sandbox knows a merchant by its id
    hosts_window = False  # its buyers pay in Gyeol's hosted checkout

    def __init__(self, pg: SandboxPG) -> None:
        self.pg = pg

    async def tokenize(self, req: TokenizeRequest) -> TokenInfo:
        return transformers.token_info(Token.model_validate(
            await self.pg.tokenize(req.credentials.merchant_id, req.card)))

    async def describe_token(self, req: TokenQuery) -> TokenInfo | None:
        found = await self.pg.token(req.credentials.merchant_id, req.token)
        return transformers.token_info(Token.model_validate(found)) if found else None

    async def authorize(self, req: AuthorizeRequest) -> AttemptResult:
        try:
            answer = await self.pg.charge(
                req.credentials.merchant_id, reference=req.reference, payment_id=req.payment_id,
                amount=req.amount, currency=req.currency, capture=req.capture, token=req.token,
                payment_key=req.payment_key, order_id=req.order_id, method=req.method_type, fault=req.fault)
        except AnswerLost:
            raise ConnectorUnavailable("sandbox: simulated timeout") from None
        return transformers.result(_charge(answer))

    async def open_window(self, req: WindowRequest) -> OpenedWindow:
        return OpenedWindow(failure_code="unsupported_operation",
                            failure_message="The sandbox has no window of its own: its buyers pay in Gyeol's checkout.")

    async def capture(self, req: FollowUpRequest) -> AttemptResult:
        return await self._follow_up("capture", req)

    async def void(self, req: FollowUpRequest) -> AttemptResult:
        return await self._follow_up("void", req)

    async def refund(self, req: FollowUpRequest) -> AttemptResult:
        return await self._follow_up("refund", req)

    async def _follow_up(self, kind: str, req: FollowUpRequest) -> AttemptResult:
        try:
            answer = await self.pg.follow_up(
                kind, req.credentials.merchant_id, reference=req.reference, payment_id=req.payment_id,
                parent_id=req.pg_transaction_id, amount=req.amount, currency=req.currency, fault=req.fault)
        except AnswerLost:
            raise ConnectorUnavailable("sandbox: simulated timeout") from None
        return transformers.result(_charge(answer))

    async def lookup(self, req: LookupRequest) -> AttemptResult:
        merchant_id = req.credentials.merchant_id
        if req.kind == "authorize" and req.pg_transaction_id:
            # A charge the buyer made at the PG (seed 003), or one that waits on the buyer: known by its id, and
            # only as the payment's own.
            found = await self.pg.transaction(merchant_id, req.pg_transaction_id)
            if found is None or found.get("payment_id") != req.payment_id:
                return AttemptResult("not_found")
            return transformers.result(_charge(found))
        # The sandbox keeps every request under its reference, so the hints other PGs need are not.
        answer = await self.pg.request(merchant_id, req.reference) if req.reference else None
        return transformers.result(_charge(answer)) if answer else AttemptResult("not_found")

    async def find_payment(self, req: PaymentQuery) -> PgPayment | None:
        found = await self.pg.payment(req.credentials.merchant_id, payment_key=req.payment_key,
                                      order_id=req.order_id)
        return transformers.pg_payment(KeyedPayment.model_validate(found)) if found else None

    def parse_event(self, type: str, data: dict[str, Any]) -> PgEvent | None:
        try:
            return transformers.event(type, EventData.model_validate(data))
        except ValidationError:
            return None  # not an event about a payment

    async def settlement_report(self, req: ReportQuery) -> list[ReportRow]:
        found = await self.pg.settlement_report(req.credentials.merchant_id, req.start, req.end)
        try:
            return [transformers.report_row(ReportLine.model_validate(line)) for line in found]
        except ValidationError as exc:
            raise ConnectorUnavailable("sandbox: unreadable report") from exc

    async def aclose(self) -> None:
        return None
