"""Toss's statuses, methods and error codes in the core's terms. A status missing here is `unknown`, never a
failure: a payment Toss reports in a status it added later is asked about again, not given up."""

from __future__ import annotations

from gyeol.connectors.base import AttemptResult, OpenedWindow, PgPayment, PgStatus, ReportRow
from gyeol.connectors.toss.schemas import Error, Payment, SettlementRow

STATUS: dict[str, PgStatus] = {
    "READY": "pending", "IN_PROGRESS": "pending", "WAITING_FOR_DEPOSIT": "waiting_for_deposit", "DONE": "approved",
    "CANCELED": "canceled", "PARTIAL_CANCELED": "partial_canceled", "ABORTED": "failed", "EXPIRED": "expired",
}
# Toss answers in Korean unless asked otherwise; either name -> the core's method type. Methods the core has no
# type for (mobile phone, easy pay) are None.
METHOD = {"카드": "card", "CARD": "card", "계좌이체": "bank", "TRANSFER": "bank", "가상계좌": "virtual_account",
          "VIRTUAL_ACCOUNT": "virtual_account"}
# The core's method type -> the method Toss's window opens for.
METHOD_OF_TYPE = {"card": "CARD", "bank": "TRANSFER", "virtual_account": "VIRTUAL_ACCOUNT"}
# Error codes whose request's outcome is not known yet: the first try still runs, or Toss failed inside. Every
# other error code is Toss's refusal, and the code itself is the failure's (the kiosk and shop faces show it).
UNKNOWN_OUTCOME = frozenset({"IDEMPOTENT_REQUEST_PROCESSING", "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING",
                             "FAILED_INTERNAL_SYSTEM_PROCESSING", "UNKNOWN_PAYMENT_ERROR", "COMMON_ERROR",
                             "FAILED_REFUND_PROCESS"})


def status_of(p: Payment) -> PgStatus:
    return STATUS.get(p.status, "unknown")


def pg_payment(p: Payment) -> PgPayment:
    return PgPayment(payment_key=p.payment_key, order_id=p.order_id, status=status_of(p),
                     total_amount=p.total_amount, balance_amount=p.balance_amount, pg_transaction_id=p.payment_key,
                     currency=p.currency, method=METHOD.get(p.method or ""), approved_at=p.approved_at,
                     last_transaction_key=p.last_transaction_key, secret=p.secret)


def confirmed(p: Payment) -> AttemptResult:
    """What a confirm came to, from the payment Toss answered with (or reports when asked)."""
    status = status_of(p)
    if status == "approved":
        return AttemptResult("succeeded", pg_transaction_id=p.payment_key, approved_at=p.approved_at,
                             amount=p.total_amount)
    if status in ("failed", "expired", "canceled"):
        code = p.failure.code if p.failure and p.failure.code else status.upper()
        message = p.failure.message if p.failure else None
        return AttemptResult("failed", pg_transaction_id=p.payment_key, failure_code=code, failure_message=message)
    return AttemptResult("unknown", pg_transaction_id=p.payment_key)  # still pending at Toss: ask again later


def refused(error: Error) -> AttemptResult:
    if error.code in UNKNOWN_OUTCOME:
        return AttemptResult("unknown")
    return AttemptResult("failed", failure_code=error.code, failure_message=error.message)


def opened(p: Payment) -> OpenedWindow | None:
    """The payment Toss created for its window, and the window's address (`checkout.url`); None for an answer that
    has no window to offer."""
    url = p.checkout.url if p.checkout is not None else None
    if not url:
        return None
    return OpenedWindow(payment_key=p.payment_key, checkout_url=url, order_id=p.order_id, amount=p.total_amount)


def report_row(row: SettlementRow) -> ReportRow:
    """A settlement row in the core's terms. An approval is known by its paymentKey (what Gyeol keeps as the
    payment's transaction id), a cancel by its own transactionKey (what a refund keeps)."""
    fee = row.fee if row.fee is not None else sum(f.fee for f in row.fees or ())
    if row.cancel is not None or row.amount < 0:
        key = (row.cancel.transaction_key if row.cancel else None) or row.transaction_key or ""
        return ReportRow(key, "cancel", row.amount, fee, row.vat, row.pay_out_amount, row.currency, row.sold_date,
                         row.paid_out_date, row.order_id, row.payment_key)
    return ReportRow(row.payment_key, "payment", row.amount, fee, row.vat, row.pay_out_amount, row.currency,
                     row.sold_date, row.paid_out_date, row.order_id, row.payment_key)
