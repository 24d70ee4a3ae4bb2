"""The canonical shape of a payment, order and refund: what the native API and events show."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gyeol.core.clock import iso


def payment_view(p: Mapping[str, Any], attempt: Mapping[str, Any] | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "paymentId": p["id"],
        "object": "payment",
        "status": p["status"],
        "amount": p["amount"],
        "currency": p["currency"],
        "orderId": p["order_id"],
        "captureMethod": p["capture_method"],
        "authorizedAmount": p["authorized_amount"],
        "capturedAmount": p["captured_amount"],
        "refundedAmount": p["refunded_amount"],
        "capturedAt": iso(p["captured_at"]),
        "canceledAt": iso(p["canceled_at"]),
        "failureReason": p["failure_reason"],
        "failureMessage": p["failure_message"],
        "description": p["description"],
        "customerId": p["customer_id"],
        "paymentMethodId": p["payment_method_id"],
        "paymentMethodType": p["method_type"],
        "card": {"brand": p["card_brand"], "last4": p["card_last4"]} if p["card_last4"] else None,
        "pgTransactionId": p["pg_transaction_id"],
        "livemode": bool(p["livemode"]),
        "metadata": p["metadata"] or {},
        "expiresAt": iso(p["expires_at"]),
        "createdAt": iso(p["created_at"]),
        "updatedAt": iso(p["updated_at"]),
    }
    if p["status"] == "pending" and p["next_action_url"]:
        view["redirectUrl"] = p["next_action_url"]
        view["nextAction"] = {"type": "redirect", "redirectUrl": p["next_action_url"]}
    if p.get("user_id"):
        view["userId"] = p["user_id"]
    if p.get("payment_number"):
        view["paymentNumber"] = p["payment_number"]
    if attempt is not None:
        view["lastAttempt"] = {
            "attemptId": attempt["id"],
            "kind": attempt["kind"],
            "status": attempt["status"],
            "amount": attempt["amount"],
            "connector": attempt["connector"],
            "errorCode": attempt["error_code"],
            "createdAt": iso(attempt["created_at"]),
        }
    return view


def order_view(o: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "orderId": o["order_id"],
        "object": "order",
        "amount": o["amount"],
        "currency": o["currency"],
        "status": o["status"],
        "paidAmount": o["paid_amount"],
        "refundedAmount": o["refunded_amount"],
        "customerId": o["customer_id"],
        "userId": o["user_id"],
        "orderName": o["order_name"],
        "items": o["items"],
        "paymentId": o["payment_id"],
        "paymentKey": o["payment_key"],
        "paidAt": iso(o["paid_at"]),
        "metadata": o["metadata"] or {},
        "createdAt": iso(o["created_at"]),
    }


def refund_view(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "refundId": r["id"],
        "object": "refund",
        "status": r["status"],
        "amount": r["amount"],
        "currency": r["currency"],
        "paymentId": r["payment_id"],
        "reason": r["reason"],
        "failureReason": r["failure_reason"],
        "metadata": r["metadata"] or {},
        "createdAt": iso(r["created_at"]),
    }
