"""The native API's objects (seed 000's JSON, Stripe-like): each core record as `/api/v1` shows it. Events carry
the same objects (`render`, which `services.build_services` gives the outbox), so a webhook's `data.object` is
what a GET of that object answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from gyeol.core.clock import iso
from gyeol.core.customers.records import PaymentMethod
from gyeol.core.events.records import Event
from gyeol.core.ledger.records import Balance, BalanceTransaction, Payout
from gyeol.core.orders.records import Order
from gyeol.core.pagination import Page
from gyeol.core.payments.records import Attempt, Charge, Created, Payment
from gyeol.core.reconciliation.records import Imported, Item, Run
from gyeol.core.refunds.records import Refund
from gyeol.core.settlements.records import Settlement
from gyeol.core.webhooks.records import WebhookDelivery, WebhookEndpoint

Json = dict[str, Any]
T = TypeVar("T")


def payment_view(p: Payment, attempt: Attempt | None = None) -> Json:
    view: Json = {
        "paymentId": p.id,
        "object": "payment",
        "status": p.status,
        "amount": p.amount,
        "currency": p.currency,
        "orderId": p.order_id,
        "captureMethod": p.capture_method,
        "authorizedAmount": p.authorized_amount,
        "capturedAmount": p.captured_amount,
        "refundedAmount": p.refunded_amount,
        "capturedAt": iso(p.captured_at),
        "canceledAt": iso(p.canceled_at),
        "failureReason": p.failure_reason,
        "failureMessage": p.failure_message,
        "description": p.description,
        "customerId": p.customer_id,
        "paymentMethodId": p.payment_method_id,
        "paymentMethodType": p.method_type,
        "card": {"brand": p.card_brand, "last4": p.card_last4} if p.card_last4 else None,
        "pgTransactionId": p.pg_transaction_id,
        "livemode": bool(p.livemode),
        "metadata": p.metadata or {},
        "expiresAt": iso(p.expires_at),
        "createdAt": iso(p.created_at),
        "updatedAt": iso(p.updated_at),
    }
    if p.status == "pending" and p.next_action_url:
        view["redirectUrl"] = p.next_action_url
        view["nextAction"] = {"type": "redirect", "redirectUrl": p.next_action_url}
    if p.user_id:
        view["userId"] = p.user_id
    if p.payment_number:
        view["paymentNumber"] = p.payment_number
    if attempt is not None:
        view["lastAttempt"] = {
            "attemptId": attempt.id,
            "kind": attempt.kind,
            "status": attempt.status,
            "amount": attempt.amount,
            "connector": attempt.connector,
            "errorCode": attempt.error_code,
            "createdAt": iso(attempt.created_at),
        }
    return view


def attempt_view(a: Attempt) -> Json:
    """An attempt whose outcome is still unknown a day on (`attempt.unresolved`)."""
    return {"object": "payment_attempt", "attemptId": a.id, "paymentId": a.payment_id, "kind": a.kind,
            "amount": a.amount, "connector": a.connector, "checks": a.checks, "createdAt": iso(a.created_at)}


def charge_view(c: Charge) -> Json:
    return payment_view(c.payment, c.attempt)


def created_view(c: Created) -> Json:
    """A new payment, with where the buyer goes next and its client token."""
    view = charge_view(c.charge)
    if c.client_token is not None:
        view["clientToken"] = c.client_token
    view["redirectUrl"] = c.redirect_url
    return view


def order_view(o: Order) -> Json:
    return {
        "orderId": o.order_id,
        "object": "order",
        "amount": o.amount,
        "currency": o.currency,
        "status": o.status,
        "paidAmount": o.paid_amount,
        "refundedAmount": o.refunded_amount,
        "customerId": o.customer_id,
        "userId": o.user_id,
        "orderName": o.order_name,
        "items": o.items,
        "paymentId": o.payment_id,
        "paymentKey": o.payment_key,
        "paidAt": iso(o.paid_at),
        "metadata": o.metadata or {},
        "createdAt": iso(o.created_at),
    }


def refund_view(r: Refund) -> Json:
    return {
        "refundId": r.id,
        "object": "refund",
        "status": r.status,
        "amount": r.amount,
        "currency": r.currency,
        "paymentId": r.payment_id,
        "reason": r.reason,
        "failureReason": r.failure_reason,
        "metadata": r.metadata or {},
        "createdAt": iso(r.created_at),
    }


def settlement_view(s: Settlement) -> Json:
    return {
        "settlementId": s.id, "object": "settlement", "kind": s.kind, "orderId": s.order_id,
        "paymentId": s.payment_id, "method": s.method, "grossAmount": s.gross_amount,
        "feeAmount": s.fee_amount, "netAmount": s.net_amount, "currency": s.currency,
        "status": s.status, "payoutDate": s.payout_date.isoformat(), "payoutId": s.payout_id,
        "createdAt": iso(s.created_at),
    }


def run_view(r: Run) -> Json:
    return {
        "runId": r.id, "object": "reconciliation_run", "pg": r.pg, "source": r.source,
        "from": r.date_from.isoformat(), "to": r.date_to.isoformat(), "status": r.status, "counts": dict(r.counts),
        "gyeolRows": r.gyeol_rows, "reportRows": r.report_rows,
        "expectedUntil": r.expected_until.isoformat() if r.expected_until else None, "failure": r.failure,
        "times": r.times, "livemode": bool(r.livemode), "createdAt": iso(r.created_at), "updatedAt": iso(r.updated_at),
    }


def item_view(i: Item) -> Json:
    """A row of a run that did not simply match, with each side's figures (null: that side has no row)."""
    gyeol = None if i.gyeol_amount is None else {
        "amount": i.gyeol_amount, "fee": i.gyeol_fee, "currency": i.gyeol_currency,
        "payoutDate": i.gyeol_payout_date.isoformat() if i.gyeol_payout_date else None}
    pg = None if i.pg_amount is None else {
        "amount": i.pg_amount, "fee": i.pg_fee, "currency": i.pg_currency,
        "payoutDate": i.pg_payout_date.isoformat() if i.pg_payout_date else None}
    r = i.resolution
    return {
        "itemId": i.id, "object": "reconciliation_item", "runId": i.run_id, "state": i.state, "status": i.status,
        "type": i.type, "transactionId": i.transaction_id, "paymentId": i.payment_id,
        "settlementId": i.settlement_id, "orderId": i.order_id, "soldDate": i.sold_date.isoformat(),
        "gyeol": gyeol, "pg": pg, "livemode": bool(i.livemode), "createdAt": iso(i.created_at),
        "resolution": None if r is None else {"state": r.state, "note": r.note, "resolvedBy": r.resolved_by,
                                              "resolvedAt": iso(r.created_at)},
    }


def imported_view(i: Imported) -> Json:
    return {"importId": i.id, "object": "reconciliation_import", "pg": i.pg, "rows": i.rows,
            "from": i.date_from.isoformat(), "to": i.date_to.isoformat(), "livemode": bool(i.livemode)}
def payout_view(po: Payout) -> Json:
    return {"payoutId": po.id, "object": "payout", "amount": po.amount, "currency": po.currency,
            "settlements": po.settlements, "arrivalDate": po.arrival_date.isoformat(),
            "livemode": bool(po.livemode), "createdAt": iso(po.created_at)}


def balance_view(b: Balance) -> Json:
    """Stripe's balance object: per currency, what is available now and what is pending."""
    return {"object": "balance", "livemode": b.livemode,
            "available": [{"currency": c, "amount": a} for c, a in sorted(b.available.items())],
            "pending": [{"currency": c, "amount": a} for c, a in sorted(b.pending.items())]}


def balance_transaction_view(t: BalanceTransaction) -> Json:
    return {"balanceTransactionId": t.id, "object": "balance_transaction", "type": t.type, "amount": t.amount,
            "fee": t.fee, "net": t.net, "currency": t.currency, "sourceId": t.source_id, "paymentId": t.payment_id,
            "availableOn": t.available_on.isoformat() if t.available_on else None, "livemode": t.livemode,
            "createdAt": iso(t.created_at)}


def method_view(m: PaymentMethod) -> Json:
    return {
        "paymentMethodId": m.id,
        "type": m.type,
        "brand": m.brand,
        "last4": m.last4,
        "exp": f"{m.exp_month:02d}/{m.exp_year % 100:02d}",
        "expMonth": m.exp_month,
        "expYear": m.exp_year,
        "default": bool(m.is_default),
    }


def endpoint_view(e: WebhookEndpoint, secret: str | None = None) -> Json:
    view: Json = {
        "endpointId": e.id, "object": "webhook_endpoint", "url": e.url, "events": e.events,
        "description": e.description, "enabled": bool(e.enabled), "livemode": bool(e.livemode),
        "disabledReason": e.disabled_reason, "failingSince": iso(e.failing_since),
        "createdAt": iso(e.created_at), "updatedAt": iso(e.updated_at),
    }
    if secret is not None:
        view["secret"] = secret  # shown once: on creation and on rotation
    return view


def delivery_view(d: WebhookDelivery) -> Json:
    return {
        "deliveryId": d.id, "object": "webhook_delivery", "endpointId": d.endpoint_id, "eventId": d.event_id,
        "eventType": d.event_type, "status": d.status, "attempts": d.attempts,
        "nextAttemptAt": iso(d.next_attempt_at) if d.status == "pending" else None,
        "lastStatusCode": d.last_status_code, "lastError": d.last_error,
        "lastResponseExcerpt": d.last_response_excerpt, "deliveredAt": iso(d.delivered_at),
        "createdAt": iso(d.created_at),
    }


def event_view(e: Event) -> Json:
    """An event as it was written, with the object as it was then."""
    return dict(e.payload)


def page_view(page: Page[T], view: Callable[[T], Json]) -> Json:
    """The native list shape: {items, total, page, size}."""
    return {"items": [view(x) for x in page.items], "total": page.total, "page": page.page, "size": page.size}


_VIEWS: dict[type, Callable[[Any], Json]] = {
    Payment: payment_view, Attempt: attempt_view, Order: order_view, Refund: refund_view,
    Settlement: settlement_view, WebhookEndpoint: endpoint_view, Run: run_view, Item: item_view, Payout: payout_view,
}


def render(obj: object) -> Json:
    """An event's `data.object`: the record as the native API shows it."""
    return _VIEWS[type(obj)](obj)
