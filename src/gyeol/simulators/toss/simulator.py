"""A built-in Toss Payments v1 simulator: the wire format, statuses, errors, idempotency and webhooks of
docs/toss.md, faithful enough that Toss client libraries work against it unchanged.

Stand-alone with `gyeol toss-sim --port 9191`, or mounted at /sandbox/toss when GYEOL_TOSS_SIM=true. State is
in memory (one process); the simulator plays Toss, not Gyeol, so it shares nothing with Gyeol's database.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gyeol.core.clock import KST
from gyeol.simulators.sandbox.cards import behavior_of
from gyeol.simulators.toss import faults, window
from gyeol.simulators.toss.faults import BadFault, Fault
from gyeol.simulators.toss.payment import UNPAID, SimPayment, toss_time
from gyeol.simulators.toss.settlements import SimSettlements
from gyeol.simulators.toss.wire import TossError, body_of, error_response, json_response, owner_of
from gyeol.toss_v1 import ERROR_STATUS, ORDER_ID_MAX
from gyeol.web.assets import asset_response
from gyeol.web.cardform import read_card, read_form
from gyeol.web.security import Csrf
from gyeol.web.texts import lang_of

log = structlog.get_logger(__name__)
RETRY_MINUTES = (1, 4, 16, 64, 256, 1024, 4096)  # Toss's re-send schedule after a failed webhook




class TossSimulator:
    def __init__(self, *, webhook_url: str | None = None, retry_unit_seconds: float = 60.0,
                 now: Callable[[], datetime] | None = None, client: httpx.AsyncClient | None = None,
                 public_url: str = "") -> None:
        self.webhook_url = webhook_url
        self.webhook_urls: dict[str, str] = {}  # per secret key, overriding webhook_url
        self.retry_unit = retry_unit_seconds
        self.now = now or (lambda: datetime.now(UTC))
        self.client = client or httpx.AsyncClient(timeout=10.0)
        self.public_url = public_url.rstrip("/")
        self.payments: dict[str, SimPayment] = {}
        self.idempotency: dict[tuple[str, str, str, str], tuple[int, bytes] | None] = {}
        self.deliveries: list[dict[str, Any]] = []
        self.faults = faults.Switchboard()
        self._tasks: set[asyncio.Task[None]] = set()
        self.csrf = Csrf(secrets.token_bytes(32))  # the window's forms; in memory, like everything here
        self.settlements = SimSettlements(self)  # GET /v1/settlements, and the switches that skew it
        self.app = Starlette(routes=[
            Route("/v1/payments", self.create, methods=["POST"]),
            Route("/v1/payments/confirm", self.confirm, methods=["POST"]),
            Route("/v1/payments/orders/{order_id}", self.by_order, methods=["GET"]),
            Route("/v1/payments/{payment_key}/cancel", self.cancel, methods=["POST"]),
            Route("/v1/payments/{payment_key}", self.get_or_legacy_confirm, methods=["GET", "POST"]),
            Route("/v1/virtual-accounts/{payment_key}/deposit", self.deposit, methods=["POST"]),
            Route("/payments", self.open_window, methods=["POST"]),
            Route("/checkout/{payment_key}", self.checkout_page, methods=["GET"]),
            Route("/checkout/{payment_key}/{answer:str}", self.checkout_answer, methods=["POST"]),
            Route("/assets/{name}", self.asset, methods=["GET"]),
            *faults.admin_routes(self.faults, self._books),
            *self.settlements.routes(),
        ])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    # --- plumbing -----------------------------------------------------------------------------
    def _base(self, request: Request) -> str:
        return self.public_url or str(request.base_url).rstrip("/")

    def _ok(self, request: Request, p: SimPayment) -> Response:
        english = request.headers.get("accept-language", "").lower().startswith("en")
        return Response(orjson.dumps(p.to_json(self._base(request), english)), media_type="application/json")

    async def _api(self, request: Request, handler: Callable[[str], Any], *, post: bool,
                   operation: str | None = None) -> Response:
        """Auth, the test-code header, the fault switches (`faults.py`) and Toss's Idempotency-Key rules around one
        API call of a connector's `operation` (None: the buyer's side, which meets no fault)."""
        try:
            owner = owner_of(request)
            test_code = request.headers.get("tosspayments-test-code")
            if test_code:
                if test_code not in ERROR_STATUS:
                    raise TossError("INVALID_TEST_CODE")
                raise TossError(test_code)
            ikey = request.headers.get("idempotency-key") if post else None
            if ikey is not None and len(ikey) > 300:
                raise TossError("INVALID_IDEMPOTENCY_KEY")
            key, order = await self._facts(request)
            fault = self._fault(request, owner, operation, key, order) if operation else None
        except TossError as err:
            return error_response(err)
        # A fault `before` the work: the request never reached Toss.
        answer = None if fault is not None and fault.before else \
            await self._run(request, owner, handler, ikey, fault, operation)
        if operation:
            self.faults.record(owner, operation, key, order, answer, fault, toss_time(self.now()))
        if fault is not None:
            return faults.instead(fault, answer)
        assert answer is not None
        return answer

    async def _run(self, request: Request, owner: str, handler: Callable[[str], Any], ikey: str | None,
                   fault: Fault | None, operation: str | None) -> Response:
        slot = (owner, ikey or "", request.method, request.url.path)
        try:
            if ikey:
                if slot in self.idempotency:
                    stored = self.idempotency[slot]
                    if stored is None:
                        raise TossError("IDEMPOTENT_REQUEST_PROCESSING")
                    return Response(stored[1], status_code=stored[0], media_type="application/json")
                self.idempotency[slot] = None
            try:
                if fault is not None and fault.name == "slow":
                    await asyncio.sleep(fault.seconds)  # the work is under way: a retry of its key gets a 409
                response: Response = await handler(owner)
            except TossError as err:
                response = error_response(err)
            except BaseException:
                self.idempotency.pop(slot, None)
                raise
            if ikey:
                self.idempotency[slot] = (response.status_code, bytes(response.body))
            if fault is not None and fault.name == "already_processed" and response.status_code == 200 and (
                    operation == "confirm" or orjson.loads(response.body)["status"] == "CANCELED"):
                # Toss no longer knows the key: a retry meets the payment's state (ALREADY_PROCESSED_PAYMENT,
                # ALREADY_CANCELED_PAYMENT). A partial cancel keeps it, or its retry would cancel twice.
                self.idempotency.pop(slot, None)
            return response
        except TossError as err:
            return error_response(err)

    async def _facts(self, request: Request) -> tuple[str | None, str | None]:
        """The paymentKey and orderId a call names: in its path or body, or the orderId of its payment."""
        body: dict[str, Any] = {}
        if request.method == "POST":
            with contextlib.suppress(TossError):
                body = await body_of(request)
        key = request.path_params.get("payment_key") or body.get("paymentKey")
        order = request.path_params.get("order_id") or body.get("orderId")
        key, order = (key if isinstance(key, str) else None), (order if isinstance(order, str) else None)
        if order is None and key in self.payments:
            order = self.payments[key].order_id
        return key, order

    def _fault(self, request: Request, owner: str, operation: str, key: str | None, order: str | None
               ) -> Fault | None:
        try:
            return self.faults.pick(owner, request.headers.get("gyeol-sim-fault"), operation, key, order)
        except BadFault as exc:
            raise TossError("INVALID_REQUEST", text=str(exc)) from None

    def _books(self, owner: str, order_id: str | None) -> list[dict[str, Any]]:
        """The owner's payments (of one order), as Toss would answer each."""
        found = [p for p in self.payments.values() if p.owner == owner and order_id in (None, p.order_id)]
        for p in found:
            self._expire(p)
        return [p.to_json(self.public_url, english=False) for p in found]

    def _find(self, owner: str, payment_key: str) -> SimPayment:
        p = self.payments.get(payment_key)
        if p is None or p.owner != owner:
            raise TossError("NOT_FOUND_PAYMENT")
        self._expire(p)
        return p

    def _expire(self, p: SimPayment) -> None:
        if p.out_of_time(self.now()):
            p.status = "EXPIRED"
            p.failure = {"code": "EXPIRED_PAYMENT", "message": "결제 유효 시간이 지나 만료되었습니다."}
            self._status_changed(p)

    # --- the API ------------------------------------------------------------------------------
    async def confirm(self, request: Request) -> Response:
        async def run(owner: str) -> Response:
            body = await body_of(request)
            return self._confirm(request, owner, body.get("paymentKey"), body)
        return await self._api(request, run, post=True, operation="confirm")

    async def get_or_legacy_confirm(self, request: Request) -> Response:
        key = request.path_params["payment_key"]
        if request.method == "POST":  # the legacy confirm path, an alias
            async def legacy(owner: str) -> Response:
                return self._confirm(request, owner, key, await body_of(request))
            return await self._api(request, legacy, post=True, operation="confirm")

        async def get(owner: str) -> Response:
            return self._ok(request, self._find(owner, key))
        return await self._api(request, get, post=False, operation="lookup")

    def _confirm(self, request: Request, owner: str, key: Any, body: dict[str, Any]) -> Response:
        order_id, amount = body.get("orderId"), body.get("amount")
        if not isinstance(key, str) or not isinstance(order_id, str) or type(amount) is not int:
            raise TossError("INVALID_REQUEST")
        p = self._find(owner, key)
        if p.status in ("EXPIRED", "READY"):  # out of time, or the buyer never authenticated: no session to confirm
            raise TossError("NOT_FOUND_PAYMENT_SESSION")
        if p.status in ("DONE", "CANCELED", "PARTIAL_CANCELED", "WAITING_FOR_DEPOSIT"):
            raise TossError("ALREADY_PROCESSED_PAYMENT")
        if p.status == "ABORTED":
            raise TossError("NOT_AVAILABLE_PAYMENT")
        if (p.order_id, p.amount) != (order_id, amount):
            raise TossError("INVALID_REQUEST")  # docs leave the code open; see docs/toss.md
        p.last_transaction_key = secrets.token_hex(16)
        if p.method == "VIRTUAL_ACCOUNT":
            p.status = "WAITING_FOR_DEPOSIT"
            p.secret = secrets.token_urlsafe(24)
            due = self.now() + timedelta(days=7)
            p.virtual_account = {"accountType": "일반", "accountNumber": "X" + str(secrets.randbelow(10**13)).zfill(13),
                                 "bankCode": "20", "customerName": "구매자", "depositorName": None,
                                 "dueDate": toss_time(due), "refundStatus": "NONE", "expired": False,
                                 "settlementStatus": "INCOMPLETED", "refundReceiveAccount": None}
        else:
            p.status, p.approved_at, p.balance = "DONE", self.now(), p.amount
        self._status_changed(p)
        return self._ok(request, p)

    async def by_order(self, request: Request) -> Response:
        async def run(owner: str) -> Response:
            found = [p for p in self.payments.values()
                     if p.owner == owner and p.order_id == request.path_params["order_id"]]
            if not found:
                raise TossError("NOT_FOUND_PAYMENT")
            p = found[-1]
            self._expire(p)
            return self._ok(request, p)
        return await self._api(request, run, post=False, operation="lookup")

    async def cancel(self, request: Request) -> Response:
        async def run(owner: str) -> Response:
            body = await body_of(request)
            p = self._find(owner, request.path_params["payment_key"])
            reason, amount = body.get("cancelReason"), body.get("cancelAmount")
            if not isinstance(reason, str) or not reason or len(reason) > 200:
                raise TossError("INVALID_REQUEST")
            if p.status == "CANCELED":
                raise TossError("ALREADY_CANCELED_PAYMENT")
            if p.status == "WAITING_FOR_DEPOSIT":
                if amount is not None and amount != p.amount:
                    raise TossError("NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT")
                amount = p.amount
                p.balance = p.amount
            elif p.status not in ("DONE", "PARTIAL_CANCELED"):
                raise TossError("NOT_CANCELABLE_PAYMENT")
            amount = p.balance if amount is None else amount
            if type(amount) is not int or amount <= 0:
                raise TossError("INVALID_REQUEST")
            if amount > p.balance:
                raise TossError("NOT_CANCELABLE_AMOUNT")
            p.balance -= amount
            tx = secrets.token_hex(16)
            p.cancels.append({"cancelAmount": amount, "cancelReason": reason, "taxFreeAmount": 0,
                              "taxExemptionAmount": 0, "refundableAmount": p.balance, "cardDiscountAmount": 0,
                              "transferDiscountAmount": 0, "easyPayDiscountAmount": 0,
                              "canceledAt": toss_time(self.now()), "transactionKey": tx, "receiptKey": None,
                              "cancelStatus": "DONE", "cancelRequestId": None})
            p.last_transaction_key = tx
            p.status = "CANCELED" if p.balance == 0 else "PARTIAL_CANCELED"
            self._status_changed(p)
            return self._ok(request, p)
        return await self._api(request, run, post=True, operation="cancel")

    # --- the buyer's side: the payment window and deposits ------------------------------------
    async def create(self, request: Request) -> Response:
        """Toss's payment creation, the API way to open its window: a `READY` payment whose `checkout.url` the buyer
        authenticates in, with `successUrl` and `failUrl` required."""
        async def run(owner: str) -> Response:
            body = await body_of(request)
            if not all(isinstance(body.get(k), str) and body[k] for k in ("orderName", "successUrl", "failUrl")):
                raise TossError("INVALID_REQUEST")
            return self._ok(request, self._new(owner, body, status="READY"))
        return await self._api(request, run, post=True)

    async def open_window(self, request: Request) -> Response:
        """Play the buyer's payment window: a payment owned by this key, authenticated, ready to confirm."""
        async def run(owner: str) -> Response:
            p = self._new(owner, await body_of(request), status="IN_PROGRESS")
            return json_response({"paymentKey": p.payment_key,
                                  "checkoutUrl": f"{self._base(request)}/checkout/{p.payment_key}"})
        return await self._api(request, run, post=True)

    def _new(self, owner: str, body: dict[str, Any], *, status: str) -> SimPayment:
        order_id, amount, method = body.get("orderId"), body.get("amount"), body.get("method", "CARD")
        if not isinstance(order_id, str) or not 6 <= len(order_id) <= ORDER_ID_MAX or type(amount) is not int \
                or amount <= 0 or method not in ("CARD", "VIRTUAL_ACCOUNT"):
            raise TossError("INVALID_REQUEST")
        now = self.now()
        p = SimPayment(owner=owner, payment_key="tgen_" + secrets.token_hex(12), order_id=order_id,
                       order_name=str(body.get("orderName") or order_id)[:100], amount=amount, method=method,
                       requested_at=now, status=status, authenticated_at=now if status == "IN_PROGRESS" else None,
                       success_url=body.get("successUrl"), fail_url=body.get("failUrl"))
        self.payments[p.payment_key] = p
        return p

    async def asset(self, request: Request) -> Response:
        return asset_response(request.path_params["name"])

    def _window(self, request: Request, p: SimPayment, lang: str, *, error: str | None = None, status: int = 200,
                refused: bool = False) -> Response:
        nonce = None if refused else Csrf.nonce(request)
        csrf = None if nonce is None else self.csrf.token(f"toss:{p.payment_key}", nonce[0])
        return window.page(self._base(request), p.payment_key, p.order_name, p.amount, p.method, lang, csrf=csrf,
                           nonce=nonce, success_url=p.success_url,
                           fail_url=window.fail_target(p.fail_url, p.order_id), error=error, status=status)

    async def checkout_page(self, request: Request) -> Response:
        """Toss's payment window, in the look of Gyeol's own checkout (gyeol.web)."""
        p = self._payable(request.path_params["payment_key"])
        lang = lang_of(request.query_params.get("lang"))
        return window.not_found(self._base(request), lang) if p is None else self._window(request, p, lang)

    def _payable(self, payment_key: str) -> SimPayment | None:
        """The payment a window is open for, while the buyer may still pay in it."""
        p = self.payments.get(payment_key)
        if p is not None:
            self._expire(p)
        return p if p is not None and p.status in UNPAID else None

    async def checkout_answer(self, request: Request) -> Response:
        """The buyer paid in the window: authenticated (`IN_PROGRESS`), on to successUrl with paymentKey, orderId
        and amount (the payment waits for the merchant's confirm); or to failUrl with code, message and orderId."""
        p = self._payable(request.path_params["payment_key"])
        form = await read_form(request)
        lang = lang_of(form.get("lang"))
        if p is None:
            return window.not_found(self._base(request), lang)
        if not self.csrf.valid(request, f"toss:{p.payment_key}", form.get("csrf")):
            return self._window(request, p, lang, error="csrf", status=403, refused=True)
        if request.path_params["answer"] == "cancel":
            return window.done(self._base(request), lang, window.fail_target(p.fail_url, p.order_id))
        if p.method == "CARD":
            card, problem = read_card(form, self.now())
            if card is None:
                return self._window(request, p, lang, error=problem, status=400)
            if behavior_of(card.number).startswith("decline:"):
                target = window.fail_target(p.fail_url, p.order_id, "REJECT_CARD_COMPANY")
                return window.done(self._base(request), lang, target)
        if p.status == "READY":
            p.status, p.authenticated_at = "IN_PROGRESS", self.now()
        target = window.success_target(p.success_url, p.payment_key, p.order_id, p.amount)
        return window.done(self._base(request), lang, target)

    async def deposit(self, request: Request) -> Response:
        async def run(owner: str) -> Response:
            p = self._find(owner, request.path_params["payment_key"])
            if p.status != "WAITING_FOR_DEPOSIT":
                raise TossError("NOT_AVAILABLE_PAYMENT")
            p.status, p.approved_at, p.balance = "DONE", self.now(), p.amount
            p.last_transaction_key = secrets.token_hex(16)
            if p.virtual_account:
                p.virtual_account = {**p.virtual_account, "settlementStatus": "COMPLETED", "depositorName": "구매자"}
            self._status_changed(p)
            self._send(p.owner, {"createdAt": self._webhook_time(), "secret": p.secret, "status": p.status,
                                 "transactionKey": p.last_transaction_key, "orderId": p.order_id})
            return self._ok(request, p)
        return await self._api(request, run, post=True)

    # --- webhooks -----------------------------------------------------------------------------
    def _webhook_time(self) -> str:
        return self.now().astimezone(KST).replace(tzinfo=None).isoformat(timespec="microseconds")

    def _status_changed(self, p: SimPayment) -> None:
        self._send(p.owner, {"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": self._webhook_time(),
                             "data": p.to_json(self.public_url, english=False)})

    def _send(self, owner: str, body: dict[str, Any]) -> None:
        url = self.webhook_urls.get(owner, self.webhook_url)
        if not url:
            return
        try:
            task = asyncio.get_running_loop().create_task(self._deliver(url, body))
        except RuntimeError:
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, body: dict[str, Any]) -> None:
        transmission = "whtrans_" + secrets.token_hex(12)
        raw = orjson.dumps(body)
        for attempt in range(len(RETRY_MINUTES) + 1):
            headers = {"content-type": "application/json", "tosspayments-webhook-transmission-id": transmission,
                       "tosspayments-webhook-transmission-time": toss_time(self.now()) or "",
                       "tosspayments-webhook-transmission-retried-count": str(attempt)}
            status = None
            try:
                status = (await self.client.post(url, content=raw, headers=headers)).status_code
            except httpx.HTTPError:
                pass
            self.deliveries.append({"url": url, "transmissionId": transmission, "attempt": attempt,
                                    "status": status, "body": body})
            if status == 200:
                return
            if attempt < len(RETRY_MINUTES):
                await asyncio.sleep(RETRY_MINUTES[attempt] * self.retry_unit)
        log.warning("toss_sim_webhook_gave_up", url=url)

    async def drain(self) -> None:
        """Wait for the webhooks in flight (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await self.client.aclose()
