"""The sandbox PG's own endpoints (test keys only): tokenization, its books, 3-D Secure answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from gyeol.core.clock import iso
from gyeol.core.errors import DomainError
from gyeol.faces.http import JSONRoute, raises
from gyeol.faces.native.deps import PerAddress, Sensitive, Svc, TestMode
from gyeol.faces.native.schemas import SandboxPayIn, SandboxTokenIn, ThreeDSIn
from gyeol.faces.native.views import charge_view
from gyeol.faces.toss_schemas import KeyedPaymentIn

router = APIRouter(route_class=JSONRoute, prefix="/api/v1/sandbox", tags=["Sandbox (test mode only)"])


@router.post("/tokens", summary="Tokenize a test card")
async def create_token(body: SandboxTokenIn, svc: Svc, caller: TestMode, _: Sensitive) -> Any:
    token = await svc.sandbox.tokenize(caller.merchant_id, body.card.to_card())
    return {"token": token["id"], "brand": token["brand"], "last4": token["last4"],
            "expMonth": token["exp_month"], "expYear": token["exp_year"]}


@router.get("/charges", summary="List what the sandbox PG charged for a payment")
@raises("not_found")
async def list_charges(svc: Svc, caller: TestMode,
                       payment_id: str = Query(alias="paymentId", min_length=1, max_length=40)) -> Any:
    p = await svc.payments.get_payment(caller, payment_id)  # 404 unless the caller's own
    rows = await svc.sandbox.charges_for(caller.merchant_id, payment_id, p.payment_key)
    items = [{"chargeId": r["id"], "kind": r["kind"], "status": r["status"], "amount": r["amount"],
              "currency": r["currency"], "reference": r["reference"], "parentId": r["parent_id"],
              "failureCode": r["failure_code"], "createdAt": iso(r["created_at"])} for r in rows]
    return {"items": items, "total": len(items), "page": 1, "size": len(items)}


@router.post("/3ds/{payment_id}", summary="Answer a payment's 3-D Secure challenge")
@raises("processing", "gateway")
async def answer_challenge(payment_id: str, body: ThreeDSIn, svc: Svc, caller: TestMode) -> Any:
    await svc.payments.get_payment(caller, payment_id)  # 404 unless the caller's own
    charge = await svc.sandbox.complete_challenge(caller.merchant_id, payment_id, body.result == "approve")
    if charge is None:
        raise DomainError("conflict", "NO_CHALLENGE", "This payment has no 3-D Secure challenge waiting.",
                          details={"paymentId": payment_id})
    if charge["status"] == "succeeded":
        await svc.sandbox_sender.send("payment.succeeded", {
            "paymentId": payment_id, "amount": charge["amount"], "pgTransactionId": charge["id"]})
    else:
        await svc.sandbox_sender.send("payment.failed", {
            "paymentId": payment_id, "amount": charge["amount"], "pgTransactionId": charge["id"],
            "failureReason": charge["failure_code"]})
    return charge_view(await svc.payments.get(caller, payment_id))




@router.post("/pay", summary="Pay as the buyer, with a payment's client token")
@raises("authentication", "processing", "gateway")  # the client token is the credential
async def buyer_pays(body: SandboxPayIn, svc: Svc, _: PerAddress) -> Any:
    """The buyer's side of a user's payment: pay at the PG with the payment's client token (no API key).
    Gyeol's payment does not change until the app calls `POST /api/v1/payments/complete`."""
    p = await svc.payments.payable_with_client_token(body.client_token)
    charge = await svc.sandbox.pay(p.merchant_id, p.id, p.amount, p.currency, body.card.to_card())
    return {"pgTransactionId": charge["id"], "paymentId": p.id, "amount": charge["amount"],
            "status": charge["status"], "failureReason": charge["failure_code"]}


@router.post("/virtual-accounts/{payment_number}/deposit", summary="Deposit into a virtual account")
@raises("processing", "gateway")
async def deposit(payment_number: str, svc: Svc, caller: TestMode) -> Any:
    """The buyer's deposit into an issued virtual account; the sandbox tells Gyeol by its signed webhook."""
    try:
        p = await svc.payments.get_by_number(caller, payment_number)
    except DomainError:  # a payment of the native API has no number: its id will do
        p = await svc.payments.get_payment(caller, payment_number)
    charge = None
    if p.method_type == "virtual_account":
        charge = await svc.sandbox.complete_challenge(caller.merchant_id, p.id, approve=True)
    if charge is None:
        raise DomainError("conflict", "NO_DEPOSIT_AWAITED", "This payment has no virtual account awaiting a deposit.",
                          details={"paymentNumber": payment_number, "status": p.status})
    await svc.sandbox_sender.send("payment.succeeded", {
        "paymentId": p.id, "amount": charge["amount"], "pgTransactionId": charge["id"]})
    return charge_view(await svc.payments.get(caller, p.id))


@router.post("/keyed-payments", summary="Approve a paymentKey at the PG, outside Gyeol")
@raises("processing", "gateway")
async def approve_in_pg_window(body: KeyedPaymentIn, svc: Svc, caller: TestMode) -> Any:
    """Play Toss's payment window and its confirm at the PG, outside Gyeol: what a webhook-first flow starts from."""
    await svc.sandbox.approve_key(caller.merchant_id, body.payment_key, body.order_id, body.amount)
    pg = await svc.sandbox.payment(caller.merchant_id, payment_key=body.payment_key)
    assert pg is not None
    if (pg["order_id"], pg["total_amount"]) != (body.order_id, body.amount):
        raise DomainError("conflict", "AMOUNT_MISMATCH", "This paymentKey was approved for another order or amount.")
    return {"paymentKey": pg["payment_key"], "orderId": pg["order_id"], "status": pg["status"],
            "totalAmount": pg["total_amount"], "balanceAmount": pg["balance_amount"], "approvedAt": pg["approved_at"],
            "lastTransactionKey": pg["charge_id"]}
