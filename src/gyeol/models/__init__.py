"""All tables, one module per aggregate, on one MetaData."""

from gyeol.models.accounts import counters, payment_accounts
from gyeol.models.base import metadata
from gyeol.models.customers import customers, payment_methods
from gyeol.models.events import inbound_events, outbox_events
from gyeol.models.idempotency import idempotency_keys
from gyeol.models.ledger import ledger_accounts, ledger_transfers
from gyeol.models.merchants import api_keys, merchants
from gyeol.models.orders import orders
from gyeol.models.payments import payment_attempts, payments
from gyeol.models.reconciliation import (
    reconciliation_items,
    reconciliation_report_rows,
    reconciliation_resolutions,
    reconciliation_runs,
)
from gyeol.models.refunds import refunds
from gyeol.models.sandbox import sandbox_charges, sandbox_tokens
from gyeol.models.settlements import settlements
from gyeol.models.staff import audit_log, signin_failures, staff, staff_sessions
from gyeol.models.totals import daily_totals
from gyeol.models.webhooks import job_leases, webhook_deliveries, webhook_endpoints

__all__ = [
    "api_keys",
    "audit_log",
    "counters",
    "customers",
    "daily_totals",
    "idempotency_keys",
    "inbound_events",
    "job_leases",
    "ledger_accounts",
    "ledger_transfers",
    "merchants",
    "metadata",
    "orders",
    "outbox_events",
    "payment_accounts",
    "payment_attempts",
    "payment_methods",
    "payments",
    "reconciliation_items",
    "reconciliation_report_rows",
    "reconciliation_resolutions",
    "reconciliation_runs",
    "refunds",
    "sandbox_charges",
    "sandbox_tokens",
    "settlements",
    "signin_failures",
    "staff",
    "staff_sessions",
    "webhook_deliveries",
    "webhook_endpoints",
]
