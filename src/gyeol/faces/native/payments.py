"""Native payment routes (seed 000): HTTP only; the rules live in core.payments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from gyeol.core.errors import DomainError
from gyeol.core.payments.commands import METHOD_TYPES, CreateIntent, MethodSpec
from gyeol.faces.http import JSONRoute, raises
from gyeol.faces.native.deps import AnyCaller, Fault, MerchantCaller, Paging, Sensitive, Svc
from gyeol.faces.native.schemas import CancelIn, CaptureIn, CompleteIn, ConfirmIn, IntentIn, UserPaymentIn
from gyeol.faces.native.views import charge_view, created_view, page_view, payment_view

router = APIRouter(route_class=JSONRoute, prefix="/api/v1", tags=["Payments"])


@router.post("/payments/intent", summary="Create a payment (and confirm it at once)")
async def create_intent(body: IntentIn, svc: Svc, caller: MerchantCaller, _: Sensitive, fault: Fault) -> Any:
    spec = body.method_options.to_spec() if body.method_options else None
    cmd = CreateIntent(
        order_id=body.order_id, amount=body.amount, currency=body.currency, capture=body.capture,
        description=body.description, customer_id=body.customer_id, return_url=body.return_url,
        cancel_url=body.cancel_url, metadata=body.metadata, order_name=body.order_name, confirm=body.confirm,
        method=spec,
    )
    return created_view(await svc.payments.create_intent(caller, cmd, fault=fault))


@router.post("/payments", summary="Create a user's payment")
async def create_user_payment(body: UserPaymentIn, svc: Svc, caller: AnyCaller, _: Sensitive, fault: Fault) -> Any:
    """A user's payment for an order (a user's bearer token or the merchant's key), in KRW. With a card, token,
    saved method, bank or virtual account it is processed at once; without one it is `created`, with a
    `redirectUrl` and a `clientToken` for the buyer's side."""
    spec = body.method_spec()
    cmd = CreateIntent(
        order_id=body.order_id, amount=body.amount, currency=body.currency, user_id=caller.user_id,
        return_url=body.return_url, cancel_url=body.cancel_url, metadata=body.metadata, order_name=body.order_name,
        confirm=spec is not None, method=spec or MethodSpec(type=METHOD_TYPES[body.payment_method]),
    )
    return created_view(await svc.payments.create_intent(caller, cmd, fault=fault))


@router.post("/payments/complete", summary="Complete a payment the buyer made at the PG")
@raises("processing", "gateway")
async def complete(body: CompleteIn, svc: Svc, caller: AnyCaller, _: Sensitive) -> Any:
    """Verify with the PG, by its transaction id, a payment the buyer made there; then complete it."""
    return charge_view(await svc.payments.complete(caller, body.payment_id, body.pg_transaction_id, body.amount))


@router.get("/payments/me", summary="List the signed-in user's payments")
async def my_payments(svc: Svc, caller: AnyCaller, paging: Paging,
                      status: str | None = Query(default=None, min_length=1, max_length=16)) -> Any:
    if caller.user_id is None:
        raise DomainError("permission", "USER_TOKEN_REQUIRED", "/payments/me is for a user's bearer token.")
    return page_view(await svc.payments.list_page(caller, paging.page, paging.size, status, mine=True), payment_view)


@router.get("/payments", summary="List payments")
async def list_payments(svc: Svc, caller: AnyCaller, paging: Paging,
                        status: str | None = Query(default=None, min_length=1, max_length=16)) -> Any:
    return page_view(await svc.payments.list_page(caller, paging.page, paging.size, status), payment_view)


@router.get("/payments/{payment_id}", summary="Get a payment")
async def get_payment(payment_id: str, svc: Svc, caller: AnyCaller) -> Any:
    return charge_view(await svc.payments.get(caller, payment_id))


@router.post("/payments/{payment_id}/confirm", summary="Confirm a payment with a payment method")
async def confirm(payment_id: str, body: ConfirmIn, svc: Svc, caller: AnyCaller, _: Sensitive,
                  fault: Fault) -> Any:
    spec = body.to_spec()
    return charge_view(await svc.payments.confirm(caller, payment_id, spec, fault=fault))


@router.post("/payments/{payment_id}/capture", summary="Capture an authorized payment")
async def capture(payment_id: str, svc: Svc, caller: MerchantCaller, _: Sensitive, fault: Fault,
                  body: CaptureIn | None = None) -> Any:
    return charge_view(await svc.payments.capture(caller, payment_id, (body or CaptureIn()).amount, fault=fault))


@router.post("/payments/{payment_id}/cancel", summary="Cancel a payment (a full refund once money was taken)")
async def cancel(payment_id: str, svc: Svc, caller: AnyCaller, _: Sensitive, fault: Fault,
                 body: CancelIn | None = None) -> Any:
    return charge_view(await svc.payments.cancel(caller, payment_id, (body or CancelIn()).reason, fault=fault))
