"""The Toss Payments connector: Toss's v1 wire format over httpx, with the merchant's own secret key, which each
request carries (the core reads and decrypts it; the connector keeps none and reads no database).

A payment is opened with Toss's payment creation, whose answer carries its window's address (`checkout.url`): the
buyer pays there, and the merchant's confirm charges. Authorize is Toss's confirm, void and refund are its cancel.
A timeout, a connection error, a 5xx, a 409 or an answer that is not a whole Toss object leaves the outcome unknown
(ConnectorUnavailable); every other answer, a rejection included, is a result. A lost answer is learnt from Toss: a
confirm from the payment, and a confirm Toss has not approved yet, like a cancel, by sending the request again under
its own Idempotency-Key, which Toss answers with the first request's answer (or 409 while it still runs) and never
carries out twice.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from gyeol.connectors.base import (
    AttemptResult,
    AuthorizeRequest,
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
from gyeol.connectors.toss import transformers
from gyeol.connectors.toss.schemas import CancelIn, ConfirmIn, CreateIn, Error, Payment, SettlementRow

# The report's page size (the largest every source agrees Toss takes) and its timeout: Toss asks for 60 s.
REPORT_PAGE = 5000
REPORT_PAGES = 400  # two million rows
REPORT_TIMEOUT = 60.0
SETTLEMENT_ROWS = TypeAdapter(list[SettlementRow])


class TossConnector:
    name = "toss"
    needs_secret = True
    hosts_window = True

    def __init__(self, base_url: str, *, timeout: float = 10.0, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client or httpx.AsyncClient(timeout=timeout)

    async def _send(self, credentials: Credentials, method: str, path: str, body: BaseModel | None = None,
                    idempotency_key: str | None = None, fault: str | None = None, *,
                    params: dict[str, str | int] | None = None, slow: bool = False) -> httpx.Response:
        key = credentials.secret_key
        if key is None:
            raise ConnectorUnavailable("toss: the merchant has no Toss secret key")
        headers = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if fault and fault.isupper():
            headers["TossPayments-Test-Code"] = fault
        payload = body.model_dump(by_alias=True, exclude_none=True) if body is not None else None
        try:
            r = await self.client.request(method, self.base_url + path, json=payload, headers=headers,
                                          params=params,  # a report may take Toss a minute
                                          timeout=REPORT_TIMEOUT if slow else httpx.USE_CLIENT_DEFAULT)
        except httpx.HTTPError as exc:
            raise ConnectorUnavailable(f"toss: {type(exc).__name__}") from exc
        if r.status_code >= 500 or r.status_code == 409:
            # A 5xx is temporary at Toss and 409 means the first try is still running: the outcome is unknown.
            raise ConnectorUnavailable(f"toss: HTTP {r.status_code}")
        return r

    async def _call(self, credentials: Credentials, method: str, path: str, body: BaseModel | None = None,
                    idempotency_key: str | None = None, fault: str | None = None) -> Payment | Error:
        r = await self._send(credentials, method, path, body, idempotency_key, fault)
        try:
            if r.status_code == 200:
                return Payment.model_validate_json(r.content)
            return Error.model_validate_json(r.content)
        except ValidationError:
            raise ConnectorUnavailable("toss: the answer was not a Toss object") from None

    async def _payment(self, credentials: Credentials, path: str) -> Payment | None:
        answer = await self._call(credentials, "GET", path)
        return answer if isinstance(answer, Payment) else None

    async def _known_payment(self, credentials: Credentials, path: str) -> Payment | None:
        """The payment at `path`, None only when Toss has none; any other refusal leaves it unknown."""
        answer = await self._call(credentials, "GET", path)
        if isinstance(answer, Error) and answer.code != "NOT_FOUND_PAYMENT":
            raise ConnectorUnavailable(f"toss: lookup refused with {answer.code}")
        return answer if isinstance(answer, Payment) else None

    async def _confirm(self, credentials: Credentials, reference: str, payment_key: str, order_id: str, amount: int,
                       fault: str | None = None) -> AttemptResult:
        answer = await self._call(credentials, "POST", "/v1/payments/confirm",
                                  ConfirmIn(payment_key=payment_key, order_id=order_id, amount=amount),
                                  idempotency_key=reference, fault=fault)
        if isinstance(answer, Payment):
            return transformers.confirmed(answer)
        if answer.code == "ALREADY_PROCESSED_PAYMENT":
            # Approved before: by this confirm, whose answer was lost and whose key Toss no longer holds, or by
            # someone else's. The payment says what it came to when it is this order's, at this amount.
            found = await self._known_payment(credentials, f"/v1/payments/{payment_key}")
            if found is None or (found.order_id, found.total_amount) != (order_id, amount):
                return transformers.refused(answer)
            return transformers.confirmed(found)
        return transformers.refused(answer)

    async def authorize(self, req: AuthorizeRequest) -> AttemptResult:
        if not req.payment_key or not req.order_id:
            return AttemptResult("failed", failure_code="unsupported_method",
                                 failure_message="Toss confirms payments its own window created (a paymentKey).")
        return await self._confirm(req.credentials, req.reference, req.payment_key, req.order_id, req.amount,
                                   req.fault)

    async def open_window(self, req: WindowRequest) -> OpenedWindow:
        method = transformers.METHOD_OF_TYPE.get(req.method_type, "CARD")
        answer = await self._call(req.credentials, "POST", "/v1/payments",
                                  CreateIn(method=method, amount=req.amount, order_id=req.order_id,
                                           order_name=req.order_name, success_url=req.success_url,
                                           fail_url=req.fail_url),
                                  idempotency_key=req.reference)
        if isinstance(answer, Payment):
            opened = transformers.opened(answer)
            if opened is None:
                raise ConnectorUnavailable("toss: the payment came without its window")
            return opened
        if answer.code in transformers.UNKNOWN_OUTCOME:
            raise ConnectorUnavailable(f"toss: {answer.code}")  # asked again, it answers the same payment
        return OpenedWindow(failure_code=answer.code, failure_message=answer.message)

    async def capture(self, req: FollowUpRequest) -> AttemptResult:
        return AttemptResult("failed", failure_code="unsupported_operation",
                             failure_message="Toss card payments are captured at confirm.")

    async def void(self, req: FollowUpRequest) -> AttemptResult:
        return await self.refund(req)

    async def refund(self, req: FollowUpRequest) -> AttemptResult:
        return await self._cancel(req.credentials, req.reference, req.pg_transaction_id, req.amount, req.reason,
                                  req.fault)

    async def _cancel(self, credentials: Credentials, reference: str, payment_key: str, amount: int,
                      reason: str | None, fault: str | None = None) -> AttemptResult:
        answer = await self._call(credentials, "POST", f"/v1/payments/{payment_key}/cancel",
                                  CancelIn(cancel_reason=reason or "refund", cancel_amount=amount),
                                  idempotency_key=reference, fault=fault)
        if isinstance(answer, Payment):
            return AttemptResult("succeeded", pg_transaction_id=answer.last_transaction_key)
        if answer.code == "ALREADY_CANCELED_PAYMENT":
            # Wholly canceled before: by this cancel, whose answer was lost and whose key Toss no longer holds, or
            # at Toss. Either way the amount went back once; the cancel that took it is this one's record.
            found = await self._known_payment(credentials, f"/v1/payments/{payment_key}")
            if found is not None and found.status == "CANCELED":
                taken = [c for c in found.cancels or () if c.cancel_amount == amount]
                if taken:
                    return AttemptResult("succeeded", pg_transaction_id=taken[-1].transaction_key)
        return transformers.refused(answer)

    async def lookup(self, req: LookupRequest) -> AttemptResult:
        """Settle a request whose answer was lost or is awaited."""
        if req.kind == "refund":
            if not (req.payment_key and req.reference):
                return AttemptResult("not_found")
            return await self._cancel(req.credentials, req.reference, req.payment_key, req.amount, req.reason)
        path = f"/v1/payments/{req.payment_key}" if req.payment_key else f"/v1/payments/orders/{req.order_id}"
        found = await self._known_payment(req.credentials, path) if req.payment_key or req.order_id else None
        if found is None:
            return AttemptResult("not_found")  # Toss has no such payment: nothing was taken
        if transformers.status_of(found) == "pending" and req.reference and req.payment_key and req.order_id:
            # Not approved yet: the confirm may still run at Toss, or never have reached it. Sent again under its
            # key, Toss answers which (409 while it runs: still unknown) and approves at most once.
            return await self._confirm(req.credentials, req.reference, req.payment_key, req.order_id, req.amount)
        return transformers.confirmed(found)

    async def find_payment(self, req: PaymentQuery) -> PgPayment | None:
        if req.payment_key:
            found = await self._payment(req.credentials, f"/v1/payments/{req.payment_key}")
        elif req.order_id:
            found = await self._payment(req.credentials, f"/v1/payments/orders/{req.order_id}")
        else:
            found = None
        return transformers.pg_payment(found) if found is not None else None

    async def settlement_report(self, req: ReportQuery) -> list[ReportRow]:
        """`GET /v1/settlements` by soldDate, page after page until one comes back short (the answer is a bare
        array, with no paging envelope)."""
        rows: list[ReportRow] = []
        page = 1
        while True:
            params: dict[str, str | int] = {"startDate": req.start.isoformat(), "endDate": req.end.isoformat(),
                                            "dateType": "soldDate", "page": page, "size": REPORT_PAGE}
            r = await self._send(req.credentials, "GET", "/v1/settlements", params=params, slow=True)
            try:
                if r.status_code != 200:
                    raise ConnectorUnavailable(f"toss: {Error.model_validate_json(r.content).code}")
                found = SETTLEMENT_ROWS.validate_json(r.content)
            except ValidationError:
                raise ConnectorUnavailable("toss: the answer was not a settlement report") from None
            rows += [transformers.report_row(row) for row in found]
            if len(found) < REPORT_PAGE:
                return rows
            if page == REPORT_PAGES:  # an answer that ignores `page` must not keep the run here for ever
                raise ConnectorUnavailable(f"toss: the report did not end within {REPORT_PAGES} pages")
            page += 1

    async def tokenize(self, req: TokenizeRequest) -> TokenInfo:
        raise ConnectorUnavailable("toss: card data goes to the card-capable PG, not Toss")

    async def describe_token(self, req: TokenQuery) -> TokenInfo | None:
        return None

    def parse_event(self, type: str, data: dict[str, Any]) -> PgEvent | None:
        return None  # Toss's payment webhooks are unsigned: the payment is asked of Toss (`find_payment`)

    async def aclose(self) -> None:
        await self.client.aclose()
