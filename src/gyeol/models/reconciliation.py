"""Reconciliation: PG settlement reports matched against Gyeol's books (docs/ledger.md, Reconciliation)."""

from __future__ import annotations

import sqlalchemy as sa

from gyeol.models.base import Money, created_at, metadata, updated_at

# One run per merchant, mode, PG, report source and range of sale days: running it again replaces its result.
reconciliation_runs = sa.Table(
    "reconciliation_runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), sa.ForeignKey("merchants.id"), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("pg", sa.String(40), nullable=False),
    sa.Column("source", sa.String(12), nullable=False),  # api (the PG's report API) | import (a CSV file)
    sa.Column("date_from", sa.Date, nullable=False),
    sa.Column("date_to", sa.Date, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # completed | failed (no report could be read)
    sa.Column("counts", sa.JSON, nullable=False),  # rows per state
    sa.Column("gyeol_rows", sa.Integer, nullable=False),
    sa.Column("report_rows", sa.Integer, nullable=False),
    # The last payout day of a row still `expected`: after it, the run is made again and the row is settled.
    sa.Column("expected_until", sa.Date, nullable=True),
    sa.Column("failure", sa.String(300), nullable=True),
    sa.Column("times", sa.Integer, nullable=False),
    created_at(),
    updated_at(),
    sa.UniqueConstraint("merchant_id", "livemode", "pg", "source", "date_from", "date_to",
                        name="uq_reconciliation_runs_range"),
)

# Each row of either side that did not simply match, with both sides' figures. Its id is derived from its run and
# its transaction, so a run made again keeps its items' ids (and their resolutions).
reconciliation_items = sa.Table(
    "reconciliation_items",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("run_id", sa.String(40), sa.ForeignKey("reconciliation_runs.id"), nullable=False, index=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("type", sa.String(8), nullable=False),  # payment | cancel
    sa.Column("transaction_id", sa.String(200), nullable=False),
    sa.Column("payment_id", sa.String(40), nullable=True),
    sa.Column("settlement_id", sa.String(40), nullable=True),
    sa.Column("order_id", sa.String(64), nullable=True),
    sa.Column("sold_date", sa.Date, nullable=False),
    sa.Column("gyeol_amount", Money, nullable=True),
    sa.Column("gyeol_fee", Money, nullable=True),
    sa.Column("gyeol_currency", sa.String(3), nullable=True),
    sa.Column("gyeol_payout_date", sa.Date, nullable=True),
    sa.Column("pg_amount", Money, nullable=True),
    sa.Column("pg_fee", Money, nullable=True),
    sa.Column("pg_currency", sa.String(3), nullable=True),
    sa.Column("pg_payout_date", sa.Date, nullable=True),
    created_at(),
    sa.Index("ix_reconciliation_items_merchant_state", "merchant_id", "state"),
)

# An exception resolved by a person: who, when and why. Never deleted, whatever later runs find.
reconciliation_resolutions = sa.Table(
    "reconciliation_resolutions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("item_id", sa.String(40), nullable=False),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),  # what was resolved: the item's state then
    sa.Column("note", sa.String(1000), nullable=False),
    sa.Column("resolved_by", sa.String(200), nullable=False),
    sa.Column("caller", sa.String(200), nullable=False),  # the key or user that recorded it
    created_at(),
    sa.UniqueConstraint("item_id", "state", name="uq_reconciliation_resolutions_item_state"),
)

# The rows of reports imported from CSV files, one per PG transaction: an import again replaces them.
reconciliation_report_rows = sa.Table(
    "reconciliation_report_rows",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("import_id", sa.String(40), nullable=False),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("pg", sa.String(40), nullable=False),
    sa.Column("type", sa.String(8), nullable=False),
    sa.Column("transaction_id", sa.String(200), nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("amount", Money, nullable=False),
    sa.Column("fee", Money, nullable=False),
    sa.Column("vat", Money, nullable=False),
    sa.Column("net", Money, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("sold_date", sa.Date, nullable=False),
    sa.Column("payout_date", sa.Date, nullable=False),
    created_at(),
    sa.UniqueConstraint("merchant_id", "livemode", "pg", "type", "transaction_id",
                        name="uq_reconciliation_report_rows_transaction"),
    sa.Index("ix_reconciliation_report_rows_sold", "merchant_id", "livemode", "pg", "sold_date"),
    sa.CheckConstraint("net = amount - fee", name="net_is_amount_less_fee"),
)
