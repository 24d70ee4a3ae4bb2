"""The sandbox's statuses in the core's terms. A status missing here is `unknown`: never a failure."""

from __future__ import annotations

from gyeol.connectors.base import (
    AttemptResult,
    IssuedAccount,
    Outcome,
    PgEvent,
    PgPayment,
    PgStatus,
    ReportRow,
    TokenInfo,
)
from gyeol.connectors.sandbox.schemas import Charge, EventData, KeyedPayment, ReportLine, Token

# A charge's status -> the outcome of the request that made it (an authorization's success is `authorized`).
OUTCOME: dict[str, Outcome] = {"succeeded": "succeeded", "requires_action": "requires_action", "failed": "failed",
                               "canceled": "failed"}
PAYMENT_STATUS: dict[str, PgStatus] = {"approved": "approved", "partial_canceled": "partial_canceled",
                                       "canceled": "canceled"}
METHOD = {"card": "card", "bank": "bank", "virtual_account": "virtual_account"}


def result(charge: Charge) -> AttemptResult:
    outcome = OUTCOME.get(charge.status, "unknown")
    if outcome == "succeeded" and charge.kind == "authorization":
        outcome = "authorized"
    failed = outcome == "failed"
    account = charge.virtual_account
    return AttemptResult(
        outcome, pg_transaction_id=charge.id, failure_code=(charge.failure_code or "processing_error") if failed
        else None, failure_message=charge.failure_message if failed else None, next_action_url=charge.challenge_url,
        brand=charge.brand, last4=charge.last4, amount=charge.amount,
        virtual_account=IssuedAccount(account.bank_code, account.account_number, account.holder_name)
        if account else None)


def token_info(token: Token) -> TokenInfo:
    return TokenInfo(token.id, token.brand, token.last4, token.exp_month, token.exp_year, token.fingerprint)


def pg_payment(p: KeyedPayment) -> PgPayment:
    return PgPayment(payment_key=p.payment_key, order_id=p.order_id, status=PAYMENT_STATUS.get(p.status, "unknown"),
                     total_amount=p.total_amount, balance_amount=p.balance_amount, pg_transaction_id=p.charge_id,
                     currency=p.currency, method=METHOD.get(p.method or ""), approved_at=p.approved_at,
                     last_transaction_key=p.charge_id)


def event(type: str, data: EventData) -> PgEvent | None:
    if type == "payment.succeeded":
        result = AttemptResult("succeeded", pg_transaction_id=data.pg_transaction_id)
    elif type == "payment.failed":
        result = AttemptResult("failed", pg_transaction_id=data.pg_transaction_id,
                               failure_code=data.failure_reason or "processing_error",
                               failure_message=data.failure_message)
    else:
        return None
    return PgEvent(payment_id=data.payment_id, result=result, amount=data.amount)


def report_row(line: ReportLine) -> ReportRow:
    return ReportRow(line.transaction_id, line.type, line.amount, line.fee, line.vat, line.net, line.currency,
                     line.sold_date, line.payout_date, line.order_id, line.payment_transaction_id)
