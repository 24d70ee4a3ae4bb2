"""Where the buyer goes when the checkout ends: the merchant's return and cancel addresses, with the query its
API speaks. Native payments carry `paymentId`; payments created with a Toss paymentKey (kiosk, shop) follow Toss's
payment window: `paymentKey`, `orderId`, `amount` on success, and `code`, `message`, `orderId` on cancel."""

from __future__ import annotations

from gyeol.core.payments.records import Payment
from gyeol.web.urls import with_query

CANCELED_CODE = "PAY_PROCESS_CANCELED"
CANCELED_MESSAGE = "사용자에 의해 결제가 취소되었습니다."


def success_url(p: Payment) -> str | None:
    if not p.return_url:
        return None
    if p.payment_key:
        return with_query(p.return_url, {"paymentType": "NORMAL", "paymentKey": p.payment_key,
                                         "orderId": p.order_id, "amount": p.amount})
    return with_query(p.return_url, {"paymentId": p.id})


def cancel_url(p: Payment) -> str | None:
    if not p.cancel_url:
        return None
    if p.payment_key:
        return with_query(p.cancel_url, {"code": CANCELED_CODE, "message": CANCELED_MESSAGE,
                                         "orderId": p.order_id})
    return with_query(p.cancel_url, {"paymentId": p.id})
